package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"

	gogit "github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/config"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/plumbing/transport"
	"github.com/go-git/go-git/v5/plumbing/transport/http"
)

// LookupTag resolves the tag name (annotated or lightweight, possibly a tag
// of a tag) to the commit it designates. A missing tag yields an error
// wrapping ErrTagNotFound.
func (r *Repo) LookupTag(name string) (Tag, error) {
	ref, err := r.r.Storer.Reference(plumbing.NewTagReferenceName(name))
	if err != nil {
		if errors.Is(err, plumbing.ErrReferenceNotFound) {
			return Tag{}, fmt.Errorf("looking up tag %q: %w", name, ErrTagNotFound)
		}
		return Tag{}, fmt.Errorf("looking up tag %q: %w", name, err)
	}
	return r.peel(name, ref.Hash())
}

func (r *Repo) peel(name string, h plumbing.Hash) (Tag, error) {
	t := Tag{Name: name}
	for range 16 {
		obj, err := r.r.Storer.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return Tag{}, fmt.Errorf("resolving tag %q: reading object %s: %w", name, h, err)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			t.Commit = h.String()
			return t, nil
		case plumbing.TagObject:
			to, err := object.DecodeTag(r.r.Storer, obj)
			if err != nil {
				return Tag{}, fmt.Errorf("resolving tag %q: decoding tag object %s: %w", name, h, err)
			}
			if !t.Annotated {
				t.Annotated, t.Object, t.Message = true, h.String(), to.Message
			}
			h = to.Target
		default:
			return Tag{}, fmt.Errorf("resolving tag %q: points to a %s, not a commit", name, obj.Type())
		}
	}
	return Tag{}, fmt.Errorf("resolving tag %q: too many levels of tag objects", name)
}

// TagCommit returns the hash of the commit the tag designates (annotated or
// lightweight). A missing tag yields an error wrapping ErrTagNotFound.
func (r *Repo) TagCommit(name string) (string, error) {
	t, err := r.LookupTag(name)
	if err != nil {
		return "", err
	}
	return t.Commit, nil
}

// Tags returns every tag that resolves to a commit, sorted by name. Tags of
// trees or blobs are skipped.
func (r *Repo) Tags() ([]Tag, error) {
	it, err := r.r.Tags()
	if err != nil {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	var out []Tag
	err = it.ForEach(func(ref *plumbing.Reference) error {
		t, err := r.peel(ref.Name().Short(), ref.Hash())
		if err != nil {
			return nil // not a commit tag
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("listing tags: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// TagsAtHead returns the names of the tags that designate HEAD's commit,
// sorted; none in a repository without commits.
func (r *Repo) TagsAtHead() ([]string, error) {
	h, err := r.headHash()
	if err != nil {
		if errors.Is(err, ErrNoCommits) {
			return nil, nil
		}
		return nil, err
	}
	tags, err := r.Tags()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, t := range tags {
		if t.Commit == h.String() {
			out = append(out, t.Name)
		}
	}
	return out, nil
}

// CreateAnnotatedTag creates the annotated tag name on commit with the given
// message. A nil tagger means Identity("COMMITTER"). It fails with
// ErrTagExists when the tag exists, whatever it points to.
func (r *Repo) CreateAnnotatedTag(name, commit, message string, tagger *Signature) (Tag, error) {
	if err := ValidTagName(name); err != nil {
		return Tag{}, err
	}
	h := plumbing.NewHash(commit)
	if len(commit) != 40 || h.String() != strings.ToLower(commit) {
		return Tag{}, fmt.Errorf("creating tag %q: invalid commit hash %q", name, commit)
	}
	if _, err := r.r.CommitObject(h); err != nil {
		return Tag{}, fmt.Errorf("creating tag %q: reading commit %q: %w", name, commit, err)
	}
	sig := r.signature(tagger, "COMMITTER")
	if !strings.HasSuffix(message, "\n") {
		message += "\n"
	}
	_, err := r.r.CreateTag(name, h, &gogit.CreateTagOptions{Tagger: &sig, Message: message})
	if err != nil {
		if errors.Is(err, gogit.ErrTagExists) {
			return Tag{}, fmt.Errorf("creating tag %q: %w", name, ErrTagExists)
		}
		return Tag{}, fmt.Errorf("creating tag %q: %w", name, err)
	}
	return r.LookupTag(name)
}

// DeleteTag removes the tag reference name (the tag object, if any, stays in
// the object store until garbage collection).
func (r *Repo) DeleteTag(name string) error {
	if err := r.r.DeleteTag(name); err != nil {
		if errors.Is(err, gogit.ErrTagNotFound) {
			return fmt.Errorf("deleting tag %q: %w", name, ErrTagNotFound)
		}
		return fmt.Errorf("deleting tag %q: %w", name, err)
	}
	return nil
}

// PeelToCommit returns the commit that the object hash designates: hash
// itself for a commit, the (recursively) tagged commit for a tag object.
// An object missing from the local repository is an error.
func (r *Repo) PeelToCommit(hash string) (string, error) {
	t, err := r.peel(hash, plumbing.NewHash(hash))
	if err != nil {
		return "", err
	}
	return t.Commit, nil
}

// ErrRemoteTagDiffers is wrapped by PushTag's error when the remote already
// has the tag with another value and replacing it was not allowed.
var ErrRemoteTagDiffers = errors.New("remote tag points elsewhere")

// PushOption configures PushTag.
type PushOption func(*pushOptions)

type pushOptions struct {
	auth    transport.AuthMethod
	replace func(remoteHash string) bool
}

// WithBasicAuth authenticates an HTTP(S) push with a user name and a
// password or token.
func WithBasicAuth(user, password string) PushOption {
	return func(o *pushOptions) { o.auth = &http.BasicAuth{Username: user, Password: password} }
}

// WithReplaceTag lets the push overwrite the remote tag if it currently
// points to expected (a full object hash), like git push --force-with-lease.
func WithReplaceTag(expected string) PushOption {
	return WithReplaceTagIf(func(h string) bool { return h == expected })
}

// WithReplaceTagIf lets the push overwrite the remote tag when allow
// accepts its current value (a full object hash: the commit of a
// lightweight tag, the tag object of an annotated one). The server is told
// the value the decision was based on, so a concurrent change still fails.
func WithReplaceTagIf(allow func(remoteHash string) bool) PushOption {
	return func(o *pushOptions) { o.replace = allow }
}

// PushTag pushes refs/tags/<tag> (and the objects it needs, such as the
// tagged commits) to remote, which is a configured remote's name or a URL
// or path. When the remote already has the tag with the same value nothing
// is sent. When it has another value, the push fails with an error wrapping
// ErrRemoteTagDiffers unless WithReplaceTag or WithReplaceTagIf allows that
// value.
func (r *Repo) PushTag(ctx context.Context, remote, tag string, opts ...PushOption) error {
	var o pushOptions
	for _, opt := range opts {
		opt(&o)
	}
	refName := plumbing.NewTagReferenceName(tag)
	local, err := r.r.Storer.Reference(refName)
	if err != nil {
		return fmt.Errorf("pushing tag %q: %w", tag, ErrTagNotFound)
	}
	rem, err := r.r.Remote(remote)
	if err != nil {
		// Not a configured remote: treat it as a URL or a path.
		rem = gogit.NewRemote(r.r.Storer, &config.RemoteConfig{Name: "convoy-push", URLs: []string{remote}})
	}
	refs, err := rem.ListContext(ctx, &gogit.ListOptions{Auth: o.auth})
	if err != nil && !errors.Is(err, transport.ErrEmptyRemoteRepository) {
		return fmt.Errorf("pushing tag %q to %q: listing remote refs: %w", tag, remote, err)
	}
	spec := config.RefSpec(refName.String() + ":" + refName.String())
	po := &gogit.PushOptions{RemoteName: rem.Config().Name, RemoteURL: rem.Config().URLs[0], Auth: o.auth}
	for _, ref := range refs {
		if ref.Name() != refName {
			continue
		}
		if ref.Hash() == local.Hash() {
			return nil
		}
		if o.replace == nil || !o.replace(ref.Hash().String()) {
			return fmt.Errorf("pushing tag %q to %q: %w: remote has %s, local is %s", tag, remote, ErrRemoteTagDiffers, ref.Hash(), local.Hash())
		}
		spec = "+" + spec
		po.RequireRemoteRefs = []config.RefSpec{config.RefSpec(ref.Hash().String() + ":" + refName.String())}
	}
	po.RefSpecs = []config.RefSpec{spec}
	err = rem.PushContext(ctx, po)
	if err != nil && !errors.Is(err, gogit.NoErrAlreadyUpToDate) {
		return fmt.Errorf("pushing tag %q to %q: %w", tag, remote, err)
	}
	return nil
}
