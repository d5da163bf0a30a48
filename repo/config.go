package repo

import (
	"os"
	"path/filepath"

	formatcfg "github.com/go-git/go-git/v5/plumbing/format/config"
)

// configValue returns the value git would use for section.key (no
// subsection), reading the files git reads in its order — system
// (/etc/gitconfig unless GIT_CONFIG_NOSYSTEM), global (GIT_CONFIG_GLOBAL, or
// $XDG_CONFIG_HOME/git/config then ~/.gitconfig) and the repository's
// config — the last one setting it winning. include directives are not
// followed. go-git's own merged config reads only the first global file
// it finds and drops raw options such as core.excludesFile.
func (r *Repo) configValue(section, key string) string {
	var files []string
	if os.Getenv("GIT_CONFIG_NOSYSTEM") == "" {
		files = append(files, "/etc/gitconfig")
	}
	if g := os.Getenv("GIT_CONFIG_GLOBAL"); g != "" {
		files = append(files, g)
	} else {
		xdg := os.Getenv("XDG_CONFIG_HOME")
		home, _ := os.UserHomeDir()
		if xdg == "" && home != "" {
			xdg = filepath.Join(home, ".config")
		}
		if xdg != "" {
			files = append(files, filepath.Join(xdg, "git", "config"))
		}
		if home != "" {
			files = append(files, filepath.Join(home, ".gitconfig"))
		}
	}
	files = append(files, filepath.Join(r.gitDir(), "config"))
	val := ""
	for _, f := range files {
		b, err := os.Open(f)
		if err != nil {
			continue
		}
		c := formatcfg.New()
		err = formatcfg.NewDecoder(b).Decode(c)
		b.Close()
		if err != nil {
			continue
		}
		if !c.HasSection(section) {
			continue
		}
		s := c.Section(section)
		if s.HasOption(key) {
			val = s.Option(key)
		}
	}
	return val
}
