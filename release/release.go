// Package release turns a QA tag into a release: it freezes every service's
// dependencies into a committed lockfile, has the release images built (by a
// callback), stamps the same tag on every image in the registry — retagging
// unchanged images by digest, without moving a layer — writes and commits
// releases/<tag>.json, and puts an annotated git tag on that commit.
//
// Release is idempotent and resumable: every step first looks at what is
// already there (commits carrying a "Convoy-Release: <tag>" trailer,
// registry tags, the committed manifest) and only does what is missing, so
// re-running a finished release changes nothing, and re-running after a
// crash or a registry outage finishes the job.
package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/convoy-ci/convoy/repo"
	"github.com/google/go-containerregistry/pkg/name"
)

// Commit message trailers that mark the commits a release makes.
const (
	// TrailerRelease names the release tag a commit belongs to.
	TrailerRelease = "Convoy-Release"
	// TrailerStep is StepFreeze or StepManifest.
	TrailerStep = "Convoy-Step"
	// StepFreeze marks the commit of frozen lockfiles.
	StepFreeze = "freeze"
	// StepManifest marks the commit of releases/<tag>.json.
	StepManifest = "manifest"
)

// BuildInput is what the build callback gets.
type BuildInput struct {
	// Tag is the release tag.
	Tag string
	// Registry is HOST/NAMESPACE; service images go to Registry/<service>.
	Registry string
	// Commit is the commit to build from: HEAD, with the frozen lockfiles.
	Commit string
	// Dir is the repository's worktree root (checked out at Commit).
	Dir string
	// Lockfiles are the frozen lockfiles, one per service (per workspace for services that
	// share one), in Spec order.
	Lockfiles []Lockfile
}

// BuildFunc builds (or finds in its cache) and pushes every service's
// release image from the frozen lockfiles, runs whatever must pass (gates,
// integration), and returns one ServiceImage per service with its digest
// (or a reference to resolve) and whether it changed. An error aborts the
// release before any tag is written.
type BuildFunc func(ctx context.Context, in BuildInput) ([]ServiceImage, error)

// Spec describes one release.
type Spec struct {
	// Dir is any directory inside the repository's worktree.
	Dir string
	// Tag is the release tag ("v1.4.0"), for git and for every image.
	Tag string
	// TagPattern, when set, is a regular expression Tag must match
	// (services.yaml release.tag_pattern).
	TagPattern string
	// Registry is HOST/NAMESPACE.
	Registry string
	// Services are frozen and released, in this order.
	Services []Service
	// Gates, when set, runs every service's gates so that the services'
	// environments are the ones to freeze. It runs after every
	// precondition holds, and not at all for a release already complete at
	// HEAD; an error aborts the release before anything is written. It
	// returns the shadow services whose gates failed: they are neither
	// frozen nor stamped (see Service.Shadow).
	Gates func(ctx context.Context) (shadowFailed []string, err error)
	// Envs, when set, provides every service's environment once Gates has
	// passed (see Environments); otherwise each Service.Env is frozen.
	Envs Environments
	// Build builds and pushes the release images.
	Build BuildFunc
	// Force lets stamping move image tags that point to other digests.
	Force bool
	// Insecure allows plain HTTP to the registry.
	Insecure bool
	// PushGit, when set, is a remote name or URL the annotated tag (and
	// with it the release commits) is pushed to.
	PushGit string
	// Author signs the release commits and the tag; nil means the
	// repository's identity (environment, git config, then convoy's).
	Author *repo.Signature
	// Options are further registry options (keychain, transport, retry
	// policy). Force and Insecure above are applied first.
	Options []Option
	// Logf, when set, receives one line per step.
	Logf func(format string, args ...any)
}

// Result describes what a release did.
type Result struct {
	// Tag is the release tag.
	Tag string
	// SourceCommit is the commit the images were built from (the
	// manifest's commit).
	SourceCommit string
	// FreezeCommit is the commit of changed lockfiles made by this run, ""
	// when none.
	FreezeCommit string
	// ManifestCommit is the commit of the manifest made by this run, ""
	// when none.
	ManifestCommit string
	// TagCommit is the commit the annotated tag points to.
	TagCommit string
	// TagCreated reports whether this run created the git tag.
	TagCreated bool
	// TagReplaced is the commit a pre-existing tag (a QA trigger tag on the
	// release's source) pointed to before this run moved it to TagCommit;
	// "" when no tag was moved.
	TagReplaced string
	// Lockfiles are the frozen lockfiles, in Spec order.
	Lockfiles []Lockfile
	// Images are the stamped images, sorted by service.
	Images []StampedImage
	// Unstamped are the shadow services the release went on without, in Spec order.
	Unstamped []Unstamped
	// Manifest is the release manifest, as committed.
	Manifest Manifest
	// ManifestPath is releases/<tag>.json.
	ManifestPath string
	// Pushed reports whether the tag was pushed (or already present) on
	// Spec.PushGit.
	Pushed bool
	// NothingToDo reports that the release was already complete: no
	// commit, no tag and no image tag was written.
	NothingToDo bool
}

// Unstamped is a shadow service a release went on without.
type Unstamped struct {
	// Service is its name.
	Service string
	// Why says what failed: its gates (then its lockfile was not frozen either) or its
	// release build.
	Why string
}

// Summary renders the result for people, one line per fact.
func (r Result) Summary() string {
	var b strings.Builder
	if r.NothingToDo {
		fmt.Fprintf(&b, "release %s: nothing to do, already complete at %s\n", r.Tag, short(r.TagCommit))
	} else {
		fmt.Fprintf(&b, "release %s: tagged %s\n", r.Tag, short(r.TagCommit))
	}
	for _, l := range r.Lockfiles {
		state := "unchanged"
		if l.Changed && r.FreezeCommit != "" {
			state = fmt.Sprintf("frozen (%d package changes)", len(l.Changes))
		}
		fmt.Fprintf(&b, "  lockfile %-40s %s\n", l.Path, state)
	}
	for _, i := range r.Images {
		state := "already tagged"
		if i.Written {
			state = "tagged"
			if i.Action == TagOverwrite {
				state = "tag moved from " + i.Existing
			}
		}
		kind := ActionRetagged
		if i.Changed {
			kind = ActionBuilt
		}
		fmt.Fprintf(&b, "  image    %s@%s (%s, %s)\n", i.Repo, i.Digest, kind, state)
	}
	for _, u := range r.Unstamped {
		fmt.Fprintf(&b, "  SHADOW   %s not stamped: %s\n", u.Service, u.Why)
	}
	if r.FreezeCommit != "" {
		fmt.Fprintf(&b, "  commit   %s lockfiles\n", short(r.FreezeCommit))
	}
	if r.ManifestCommit != "" {
		fmt.Fprintf(&b, "  commit   %s %s\n", short(r.ManifestCommit), r.ManifestPath)
	}
	if r.TagReplaced != "" {
		fmt.Fprintf(&b, "  tag      %s moved from %s\n", r.Tag, short(r.TagReplaced))
	}
	if r.Pushed {
		b.WriteString("  pushed   git tag\n")
	}
	return b.String()
}

func short(h string) string {
	if len(h) > repo.ShortLen {
		return h[:repo.ShortLen]
	}
	return h
}

// ErrPrecondition is matched (errors.Is) by every *PreconditionError.
var ErrPrecondition = errors.New("release precondition failed")

// PreconditionKind classifies a PreconditionError.
type PreconditionKind string

// The precondition kinds.
const (
	// PreconditionSpec: the Spec itself is invalid.
	PreconditionSpec PreconditionKind = "spec"
	// PreconditionDirty: the worktree has uncommitted changes (Files).
	PreconditionDirty PreconditionKind = "dirty-worktree"
	// PreconditionTag: the tag is malformed or does not match the pattern.
	PreconditionTag PreconditionKind = "tag"
	// PreconditionTagInUse: the git tag exists on a commit that is not this
	// release's.
	PreconditionTagInUse PreconditionKind = "tag-in-use"
	// PreconditionRegistry: the registry cannot be reached.
	PreconditionRegistry PreconditionKind = "registry-unreachable"
	// PreconditionReleased: the release is complete at HEAD but for
	// other services than the spec's.
	PreconditionReleased PreconditionKind = "released"
)

// PreconditionError is returned when a release cannot start; nothing has
// been written when it is returned. convoy maps it to exit code 2.
type PreconditionError struct {
	// Kind classifies the failure.
	Kind PreconditionKind
	// Msg says what is wrong.
	Msg string
	// Files are the offending paths (dirty files, drifted lockfiles).
	Files []string
	// Err is the underlying error, if any.
	Err error
}

// Error returns the message, the files and the cause.
func (e *PreconditionError) Error() string {
	s := e.Msg
	if len(e.Files) > 0 {
		s += ": " + strings.Join(e.Files, ", ")
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// Unwrap returns the underlying error.
func (e *PreconditionError) Unwrap() error { return e.Err }

// Is reports whether target is ErrPrecondition.
func (e *PreconditionError) Is(target error) bool { return target == ErrPrecondition }

func precondition(kind PreconditionKind, err error, files []string, format string, args ...any) error {
	return &PreconditionError{Kind: kind, Msg: fmt.Sprintf(format, args...), Files: files, Err: err}
}

var ociTagRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$`)

// TriggerTag returns the one tag among tags (e.g. Repo.TagsAtHead) that
// matches pattern (services.yaml release.tag_pattern); ok is false when none
// does, and more than one is an error.
func TriggerTag(tags []string, pattern string) (tag string, ok bool, err error) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		return "", false, fmt.Errorf("compiling tag pattern %q: %w", pattern, err)
	}
	var found []string
	for _, t := range tags {
		if re.MatchString(t) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return "", false, nil
	case 1:
		return found[0], true, nil
	}
	return "", false, fmt.Errorf("several tags at HEAD match %q: %s", pattern, strings.Join(found, ", "))
}

// trailers returns the Convoy-Release and Convoy-Step values of a commit
// message.
func trailers(msg string) (tag, step string) {
	for _, line := range strings.Split(msg, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case TrailerRelease:
			tag = strings.TrimSpace(v)
		case TrailerStep:
			step = strings.TrimSpace(v)
		}
	}
	return tag, step
}

// chain returns HEAD and its first-parent ancestors that are commits of this
// release, followed by the first commit that is not (the release's base),
// newest first.
func chain(r *repo.Repo, tag string) ([]repo.Commit, error) {
	c, err := r.HeadCommit()
	if err != nil {
		return nil, err
	}
	out := []repo.Commit{c}
	for {
		if t, _ := trailers(c.Message); t != tag || len(c.Parents) == 0 {
			return out, nil
		}
		if c, err = r.CommitInfo(c.Parents[0]); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
}

// PingTimeout bounds the registry reachability check of a release's
// preconditions, retries included.
const PingTimeout = 30 * time.Second

// state is what the preconditions found: the repository, this release's
// commits and its git tag.
type state struct {
	r        *repo.Repo
	head     repo.Commit
	inChain  map[string]bool // HEAD, its first-parent commits of this release, and their base
	existing repo.Tag
	hasTag   bool
	// manifest is releases/<tag>.json at HEAD when the tag designates HEAD:
	// the release is complete.
	manifest []byte
}

// Release runs the whole release described by spec. See the package
// documentation for the steps. Every precondition is checked before
// Spec.Gates runs and before anything is written; a release already
// complete at HEAD runs no gate and builds nothing. A *PreconditionError
// means nothing was run or written; a *TagConflictError means image tags
// point to other digests (see Spec.Force); any other error leaves a state
// that re-running Release finishes.
func Release(ctx context.Context, spec Spec) (Result, error) {
	opts := append([]Option{WithForce(spec.Force), WithInsecure(spec.Insecure), WithLogf(spec.logf())}, spec.Options...)
	res := Result{Tag: spec.Tag, ManifestPath: ManifestPath(spec.Tag)}
	st, err := preflight(ctx, spec, opts)
	if err != nil {
		return res, err
	}
	if st.manifest != nil {
		return finishComplete(ctx, spec, opts, res, st)
	}
	if spec.Gates != nil {
		failed, err := spec.Gates(ctx)
		if err != nil {
			return res, fmt.Errorf("running the gates of %q: %w", spec.Tag, err)
		}
		if spec.Services, err = withoutShadows(spec, &res, failed, WhyGates); err != nil {
			return res, err
		}
	}
	if spec.Envs != nil {
		if spec.Services, err = WithEnvironments(spec.Services, spec.Envs); err != nil {
			return res, err
		}
	}
	return cut(ctx, spec, opts, res, st)
}

// Why a shadow service was not stamped (Unstamped.Why, ManifestService.Note).
const (
	WhyGates = "its gates failed; its lockfile was not frozen"
	WhyBuild = "its release build did not pass"
)

// withoutShadows returns spec's services but the shadow services named in failed, which it
// records in res as unstamped for why. A failed service that is not a shadow is an error.
func withoutShadows(spec Spec, res *Result, failed []string, why string) ([]Service, error) {
	gone := map[string]bool{}
	for _, n := range failed {
		gone[n] = true
	}
	var out []Service
	for _, s := range spec.Services {
		switch {
		case !gone[s.Name]:
			out = append(out, s)
		case !s.Shadow:
			return nil, fmt.Errorf("releasing %q: service %q failed and is not a shadow service", spec.Tag, s.Name)
		default:
			res.Unstamped = append(res.Unstamped, Unstamped{Service: s.Name, Why: why})
			spec.logf()("release %s: shadow service %s is not stamped: %s", spec.Tag, s.Name, why)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("releasing %q: every service is a failed shadow service; nothing to release", spec.Tag)
	}
	return out, nil
}

// preflight checks every precondition, cheapest first, and writes nothing:
// the spec (tag syntax and pattern, registry reference), a clean worktree,
// the git tag free or this release's, and the registry reachable.
func preflight(ctx context.Context, spec Spec, opts []Option) (*state, error) {
	if err := validateSpec(spec); err != nil {
		return nil, err
	}
	r, err := repo.Open(spec.Dir)
	if err != nil {
		return nil, precondition(PreconditionSpec, err, nil, "opening the repository")
	}
	dirty, err := r.Dirty()
	if err != nil {
		return nil, fmt.Errorf("checking the worktree of %q: %w", r.Root(), err)
	}
	if len(dirty) > 0 {
		return nil, precondition(PreconditionDirty, nil, dirty, "the worktree of %q is not clean", r.Root())
	}
	st, err := tagState(r, spec.Tag)
	if err != nil {
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, PingTimeout)
	defer cancel()
	if err := Ping(pctx, spec.Registry, opts...); err != nil {
		return nil, precondition(PreconditionRegistry, err, nil, "registry %q is not reachable", spec.Registry)
	}
	spec.logf()("release %s: preconditions hold (HEAD %s)", spec.Tag, short(st.head.Hash))
	return st, nil
}

// tagState reads this release's commits and git tag, and refuses a tag that
// designates a commit outside them.
func tagState(r *repo.Repo, tag string) (*state, error) {
	commits, err := chain(r, tag)
	if err != nil {
		return nil, precondition(PreconditionSpec, err, nil, "reading HEAD")
	}
	st := &state{r: r, head: commits[0], inChain: map[string]bool{}}
	for _, c := range commits {
		st.inChain[c.Hash] = true
	}
	st.existing, err = r.LookupTag(tag)
	st.hasTag = err == nil
	if err != nil && !errors.Is(err, repo.ErrTagNotFound) {
		return nil, fmt.Errorf("looking up tag %q: %w", tag, err)
	}
	if st.hasTag && !st.inChain[st.existing.Commit] {
		return nil, precondition(PreconditionTagInUse, nil, nil,
			"tag %q already designates commit %s, which is not this release's (HEAD is %s)", tag, short(st.existing.Commit), short(st.head.Hash))
	}
	if st.hasTag && st.existing.Commit == st.head.Hash {
		st.manifest, err = r.ReadFile(st.head.Hash, ManifestPath(tag))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
	}
	return st, nil
}

// cut freezes, builds, stamps, writes the manifest, tags and pushes.
func cut(ctx context.Context, spec Spec, opts []Option, res Result, st *state) (Result, error) {
	r := st.r
	locks, err := FreezeAll(ctx, r, spec.Services)
	if err != nil {
		return res, err
	}
	res.Lockfiles = locks
	if res.FreezeCommit, err = commitLockfiles(r, spec, locks); err != nil {
		return res, err
	}
	if res.FreezeCommit != "" {
		st.inChain[res.FreezeCommit] = true
	}
	src, err := sourceCommit(r, spec.Tag)
	if err != nil {
		return res, err
	}
	res.SourceCommit = src.Hash

	images, err := spec.Build(ctx, BuildInput{Tag: spec.Tag, Registry: spec.Registry, Commit: src.Hash, Dir: r.Root(), Lockfiles: locks})
	if err != nil {
		return res, fmt.Errorf("building the images of %q: %w", spec.Tag, err)
	}
	if spec.Services, images, err = shadowBuilds(spec, &res, images); err != nil {
		return res, err
	}
	if images, err = checkImages(spec, images); err != nil {
		return res, err
	}
	if images, err = provenance(ctx, makeOptions(opts), images, src.Hash); err != nil {
		return res, fmt.Errorf("reading where the images of %q come from: %w", spec.Tag, err)
	}
	// Stamp: resolve every digest and check every tag, then write.
	if err := stamp(ctx, spec, opts, &res, images); err != nil {
		return res, err
	}
	// The manifest is written only now that every tag was read back.
	if err := commitManifest(r, spec, &res, src); err != nil {
		return res, err
	}
	if res.ManifestCommit != "" {
		st.inChain[res.ManifestCommit] = true
	}
	if err := gitTag(r, spec, &res, st.existing, st.hasTag, res.Manifest); err != nil {
		return res, err
	}
	res.NothingToDo = res.FreezeCommit == "" && res.ManifestCommit == "" && !res.TagCreated && res.TagReplaced == "" && written(res.Images) == 0
	if err := push(ctx, r, spec, &res, st.inChain); err != nil {
		return res, err
	}
	return res, nil
}

// commitLockfiles writes and commits the lockfiles that changed, returning
// the commit ("" when none changed).
func commitLockfiles(r *repo.Repo, spec Spec, locks []Lockfile) (string, error) {
	var drifted []string
	for _, l := range locks {
		if !l.Changed {
			continue
		}
		drifted = append(drifted, l.Path)
		abs := filepath.Join(r.Root(), filepath.FromSlash(l.Path))
		if err := os.WriteFile(abs, l.Content, 0o644); err != nil {
			return "", fmt.Errorf("writing lockfile %q: %w", l.Path, err)
		}
	}
	if len(drifted) == 0 {
		return "", nil
	}
	h, err := r.CommitFiles(drifted, freezeMessage(spec.Tag, locks), spec.Author)
	if err != nil {
		return "", fmt.Errorf("committing lockfiles of %q: %w", spec.Tag, err)
	}
	spec.logf()("release %s: committed %d lockfile(s) as %s", spec.Tag, len(drifted), short(h))
	return h, nil
}

// sourceCommit is the commit the images are built from: HEAD, skipping a
// manifest commit of this release left by an interrupted run.
func sourceCommit(r *repo.Repo, tag string) (repo.Commit, error) {
	src, err := r.HeadCommit()
	if err != nil {
		return src, err
	}
	for {
		t, step := trailers(src.Message)
		if t != tag || step != StepManifest || len(src.Parents) == 0 {
			return src, nil
		}
		if src, err = r.CommitInfo(src.Parents[0]); err != nil {
			return src, err
		}
	}
}

// commitManifest writes releases/<tag>.json from the stamped images and
// commits it, unless HEAD already holds the same bytes.
func commitManifest(r *repo.Repo, spec Spec, res *Result, src repo.Commit) error {
	stamped := make([]ServiceImage, len(res.Images))
	for i, s := range res.Images {
		stamped[i] = s.ServiceImage
	}
	m, err := NewManifest(spec.Tag, src.Hash, src.Time, stamped, res.Lockfiles)
	if err != nil {
		return err
	}
	m.addShadows(spec.Services, res.Unstamped)
	res.Manifest = m
	content := m.Marshal()
	prev, err := r.ReadFile("HEAD", res.ManifestPath)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err == nil && bytes.Equal(prev, content) {
		return nil
	}
	abs := filepath.Join(r.Root(), filepath.FromSlash(res.ManifestPath))
	if err := os.MkdirAll(filepath.Dir(abs), 0o755); err != nil {
		return fmt.Errorf("writing manifest %q: %w", res.ManifestPath, err)
	}
	if err := os.WriteFile(abs, content, 0o644); err != nil {
		return fmt.Errorf("writing manifest %q: %w", res.ManifestPath, err)
	}
	h, err := r.CommitFiles([]string{res.ManifestPath}, manifestMessage(m), spec.Author)
	if err != nil {
		return fmt.Errorf("committing manifest %q: %w", res.ManifestPath, err)
	}
	res.ManifestCommit = h
	spec.logf()("release %s: committed %s as %s", spec.Tag, res.ManifestPath, short(h))
	return nil
}

// finishComplete handles a release whose tag and manifest are at HEAD: no
// gate runs and nothing is frozen or built; every image tag is checked
// against the manifest and re-written if missing.
func finishComplete(ctx context.Context, spec Spec, opts []Option, res Result, st *state) (Result, error) {
	m, err := ParseManifest(st.manifest)
	if err != nil {
		return res, fmt.Errorf("reading %q: %w", res.ManifestPath, err)
	}
	if m.Tag != spec.Tag {
		return res, fmt.Errorf("reading %q: manifest is for tag %q", res.ManifestPath, m.Tag)
	}
	var want, have []string
	for _, s := range spec.Services {
		want = append(want, s.Name)
	}
	for _, s := range m.Services {
		have = append(have, s.Name)
	}
	sort.Strings(want)
	if strings.Join(want, ",") != strings.Join(have, ",") {
		return res, precondition(PreconditionReleased, nil, nil,
			"release %q was made for services [%s], not [%s]", spec.Tag, strings.Join(have, " "), strings.Join(want, " "))
	}
	res.Manifest, res.SourceCommit = m, m.Commit
	if err := stamp(ctx, spec, opts, &res, m.Images()); err != nil {
		return res, err
	}
	if err := gitTag(st.r, spec, &res, st.existing, true, m); err != nil {
		return res, err
	}
	res.NothingToDo = !res.TagCreated && res.TagReplaced == "" && written(res.Images) == 0
	if res.NothingToDo {
		(spec.logf())("release %s: nothing to do, already complete at %s", spec.Tag, short(res.TagCommit))
	}
	if err := push(ctx, st.r, spec, &res, st.inChain); err != nil {
		return res, err
	}
	return res, nil
}

func (s Spec) logf() func(string, ...any) {
	if s.Logf == nil {
		return func(string, ...any) {}
	}
	return s.Logf
}

func written(images []StampedImage) int {
	n := 0
	for _, i := range images {
		if i.Written {
			n++
		}
	}
	return n
}

func stamp(ctx context.Context, spec Spec, opts []Option, res *Result, images []ServiceImage) error {
	plan, err := Plan(ctx, images, spec.Tag, opts...)
	if err != nil {
		return fmt.Errorf("stamping %q: %w", spec.Tag, err)
	}
	spec.logf()("release %s: %d image tag(s) to write, %d already in place", spec.Tag, plan.Pending(), len(plan.Images)-plan.Pending())
	sr, err := plan.Apply(ctx)
	res.Images = sr.Images
	if err != nil {
		return fmt.Errorf("stamping %q: %w", spec.Tag, err)
	}
	return nil
}

// gitTag puts the annotated tag on HEAD, replacing a tag that designates an
// earlier commit of this release (checked by the preconditions) or a
// lightweight tag on HEAD.
func gitTag(r *repo.Repo, spec Spec, res *Result, existing repo.Tag, hasTag bool, m Manifest) error {
	headHash, err := r.HeadHash()
	if err != nil {
		return err
	}
	res.TagCommit = headHash
	if hasTag && existing.Commit == headHash && existing.Annotated {
		return nil
	}
	if hasTag {
		if err := r.DeleteTag(spec.Tag); err != nil {
			return err
		}
		res.TagReplaced = existing.Commit
	}
	if _, err := r.CreateAnnotatedTag(spec.Tag, headHash, tagMessage(m), spec.Author); err != nil {
		return err
	}
	res.TagCreated = true
	spec.logf()("release %s: tagged commit %s", spec.Tag, short(headHash))
	return nil
}

func push(ctx context.Context, r *repo.Repo, spec Spec, res *Result, inChain map[string]bool) error {
	if spec.PushGit == "" {
		return nil
	}
	// The remote may hold the QA tag that triggered this release (on its
	// source commit, or on an earlier commit of this release): replacing
	// that one is the point; anything else is refused.
	allow := func(h string) bool {
		if inChain[h] {
			return true
		}
		c, err := r.PeelToCommit(h)
		return err == nil && inChain[c]
	}
	if err := r.PushTag(ctx, spec.PushGit, spec.Tag, repo.WithReplaceTagIf(allow)); err != nil {
		return err
	}
	res.Pushed = true
	spec.logf()("release %s: pushed the tag to %s", spec.Tag, spec.PushGit)
	return nil
}

func validateSpec(spec Spec) error {
	bad := func(format string, args ...any) error {
		return precondition(PreconditionSpec, nil, nil, format, args...)
	}
	if spec.Tag == "" {
		return bad("no release tag given")
	}
	if err := repo.ValidTagName(spec.Tag); err != nil {
		return precondition(PreconditionTag, err, nil, "tag %q is not a valid git tag", spec.Tag)
	}
	if !ociTagRE.MatchString(spec.Tag) {
		return precondition(PreconditionTag, nil, nil, "tag %q is not a valid image tag ([A-Za-z0-9_][A-Za-z0-9._-]{0,127})", spec.Tag)
	}
	if spec.TagPattern != "" {
		re, err := regexp.Compile(spec.TagPattern)
		if err != nil {
			return bad("invalid tag pattern %q: %v", spec.TagPattern, err)
		}
		if !re.MatchString(spec.Tag) {
			return precondition(PreconditionTag, nil, nil, "tag %q does not match the release tag pattern %q", spec.Tag, spec.TagPattern)
		}
	}
	if spec.Registry == "" {
		return bad("no registry given (HOST/NAMESPACE)")
	}
	if _, err := name.NewRepository(strings.TrimSuffix(spec.Registry, "/")+"/service", name.StrictValidation); err != nil {
		return precondition(PreconditionSpec, err, nil, "registry %q is not HOST/NAMESPACE", spec.Registry)
	}
	if len(spec.Services) == 0 {
		return bad("no services to release")
	}
	if spec.Build == nil {
		return bad("no build function")
	}
	seen := map[string]bool{}
	for _, s := range spec.Services {
		if s.Name == "" || seen[s.Name] {
			return bad("service name %q empty or repeated", s.Name)
		}
		seen[s.Name] = true
		if _, err := checkService(s); err != nil {
			return precondition(PreconditionSpec, err, nil, "service %q", s.Name)
		}
	}
	return nil
}

// shadowBuilds leaves out the shadow services the build returned no digest for (their release
// build did not pass), recording them in res as unstamped.
func shadowBuilds(spec Spec, res *Result, images []ServiceImage) ([]Service, []ServiceImage, error) {
	var failed []string
	var kept []ServiceImage
	unstamped := map[string]bool{}
	for _, u := range res.Unstamped {
		unstamped[u.Service] = true
	}
	for _, img := range images {
		switch {
		case unstamped[img.Service]:
			continue // its gates failed before the freeze: not released, whatever the build did
		case img.Digest == "":
			failed = append(failed, img.Service)
			continue
		}
		kept = append(kept, img)
	}
	if len(failed) == 0 {
		return spec.Services, kept, nil
	}
	svcs, err := withoutShadows(spec, res, failed, WhyBuild)
	return svcs, kept, err
}

// checkImages matches the build's images to the services: exactly one per
// service, Repo defaulting to Registry/<service>.
func checkImages(spec Spec, images []ServiceImage) ([]ServiceImage, error) {
	by := map[string]ServiceImage{}
	for _, img := range images {
		if _, dup := by[img.Service]; dup {
			return nil, fmt.Errorf("build returned two images for service %q", img.Service)
		}
		if img.Repo == "" {
			img.Repo = strings.TrimSuffix(spec.Registry, "/") + "/" + img.Service
		}
		by[img.Service] = img
	}
	out := make([]ServiceImage, 0, len(spec.Services))
	for _, s := range spec.Services {
		img, ok := by[s.Name]
		if !ok {
			return nil, fmt.Errorf("build returned no image for service %q", s.Name)
		}
		delete(by, s.Name)
		out = append(out, img)
	}
	for name := range by {
		return nil, fmt.Errorf("build returned an image for unknown service %q", name)
	}
	return out, nil
}

func freezeMessage(tag string, locks []Lockfile) string {
	var b strings.Builder
	n := 0
	for _, l := range locks {
		if l.Changed {
			n++
		}
	}
	fmt.Fprintf(&b, "release %s: freeze dependencies of %d service(s)\n\n", tag, n)
	for _, l := range locks {
		if !l.Changed {
			continue
		}
		if l.Previous == nil {
			fmt.Fprintf(&b, "%s: %s created, %d packages\n", l.Service, l.Path, len(l.Packages))
		} else {
			fmt.Fprintf(&b, "%s: %s\n", l.Service, l.Path)
		}
		if l.Previous != nil || len(l.Changes) <= 20 {
			for _, c := range l.Changes {
				fmt.Fprintf(&b, "  %s\n", c)
			}
		}
		if l.Previous != nil && len(l.Changes) == 0 {
			b.WriteString("  (same packages; header or formatting changed)\n")
		}
	}
	fmt.Fprintf(&b, "\n%s: %s\n%s: %s\n", TrailerRelease, tag, TrailerStep, StepFreeze)
	return b.String()
}

func manifestMessage(m Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "release %s: manifest\n\n", m.Tag)
	fmt.Fprintf(&b, "Images built from %s:\n", m.Commit)
	for _, s := range m.Services {
		fmt.Fprintf(&b, "  %s %s\n", s.Name, s.describe())
	}
	fmt.Fprintf(&b, "\n%s: %s\n%s: %s\n", TrailerRelease, m.Tag, TrailerStep, StepManifest)
	return b.String()
}

func tagMessage(m Manifest) string {
	var b strings.Builder
	fmt.Fprintf(&b, "convoy release %s\n\nsource commit %s\n", m.Tag, m.Commit)
	for _, s := range m.Services {
		fmt.Fprintf(&b, "%s %s\n", s.Name, s.describe())
	}
	return b.String()
}
