package release

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// ServiceImage is one service's release image.
type ServiceImage struct {
	// Service is the service's name.
	Service string
	// Repo is the image repository, HOST/NAMESPACE/service.
	Repo string
	// Digest is the image's manifest digest ("sha256:…"). When empty, Ref
	// is resolved to a digest before anything is tagged.
	Digest string
	// Ref is an existing tag in Repo (or a full reference) naming the image
	// when Digest is empty, e.g. the tag of the last build of an unchanged
	// service.
	Ref string
	// Changed reports whether the image was built for this release (its
	// inputs changed) rather than reused from an earlier build. Release
	// also counts as built an unchanged image whose LabelRevision is the
	// release's source commit (built by an interrupted attempt).
	Changed bool
}

// TagAction says what stamping did, or will do, to one image's tag.
type TagAction string

// The tag actions.
const (
	// TagCreate: the tag does not exist yet; it will be written.
	TagCreate TagAction = "create"
	// TagDone: the tag already points to the image; nothing to write.
	TagDone TagAction = "done"
	// TagOverwrite: the tag points to another digest and Force is set; it
	// will be moved.
	TagOverwrite TagAction = "overwrite"
)

// PlannedTag is one image of a StampPlan.
type PlannedTag struct {
	ServiceImage
	// Descriptor is the image's manifest descriptor (media type, size,
	// digest) as the registry reports it.
	Descriptor v1.Descriptor
	// Existing is the digest the tag points to now, "" when absent.
	Existing string
	// Action is what Apply does for this image.
	Action TagAction
}

// Reference returns REPO:TAG for the plan's tag.
func (p PlannedTag) Reference(tag string) string { return p.Repo + ":" + tag }

// StampPlan is the result of Plan: every image resolved to a digest and
// every tag's current state known, before anything is written.
type StampPlan struct {
	// Tag is the release tag.
	Tag string
	// Images are the planned tags, sorted by service name.
	Images []PlannedTag
	opts   *options
}

// Pending returns how many tags Apply would write.
func (p *StampPlan) Pending() int {
	n := 0
	for _, t := range p.Images {
		if t.Action != TagDone {
			n++
		}
	}
	return n
}

// ErrImageNotFound is wrapped by errors about an image digest or reference
// that the registry does not have.
var ErrImageNotFound = errors.New("image not found in registry")

// TagConflict is one tag that points to another digest than the release's.
type TagConflict struct {
	// Service is the service's name.
	Service string
	// Ref is REPO:TAG.
	Ref string
	// Existing is the digest the tag points to.
	Existing string
	// Want is the release image's digest.
	Want string
}

// TagConflictError is returned (before any tag is written) when tags
// already point to other digests and Force is not set.
type TagConflictError struct {
	Conflicts []TagConflict
}

// Error lists the conflicting tags.
func (e *TagConflictError) Error() string {
	var parts []string
	for _, c := range e.Conflicts {
		parts = append(parts, fmt.Sprintf("%s points to %s, not %s", c.Ref, c.Existing, c.Want))
	}
	return "tag already used for other images (use force to move it): " + strings.Join(parts, "; ")
}

// Plan resolves every image to a digest (HEAD requests; nothing is pulled)
// and looks up what tag currently designates in each repository. It writes
// nothing. When a tag points to another digest, Plan fails with a
// *TagConflictError unless WithForce(true) is given. A digest or reference
// that does not exist fails with an error wrapping ErrImageNotFound.
func Plan(ctx context.Context, images []ServiceImage, tag string, opts ...Option) (*StampPlan, error) {
	o := makeOptions(opts)
	if _, err := name.NewTag("example.com/x:"+tag, name.StrictValidation); err != nil {
		return nil, fmt.Errorf("invalid image tag %q: %w", tag, err)
	}
	seen := map[string]bool{}
	plan := &StampPlan{Tag: tag, opts: o}
	var conflicts []TagConflict
	for _, img := range images {
		if img.Service == "" || img.Repo == "" {
			return nil, fmt.Errorf("planning tag %q: image %+v lacks a service name or repository", tag, img)
		}
		if seen[img.Repo] {
			return nil, fmt.Errorf("planning tag %q: repository %q given twice", tag, img.Repo)
		}
		seen[img.Repo] = true
		pt, err := o.resolve(ctx, img)
		if err != nil {
			return nil, err
		}
		tagRef, err := name.NewTag(img.Repo+":"+tag, o.nameOpts()...)
		if err != nil {
			return nil, fmt.Errorf("parsing reference %q: %w", img.Repo+":"+tag, err)
		}
		existing, err := o.head(ctx, tagRef)
		if err != nil {
			return nil, err
		}
		pt.Existing = existing
		switch {
		case existing == "":
			pt.Action = TagCreate
		case existing == pt.Digest:
			pt.Action = TagDone
		case o.force:
			pt.Action = TagOverwrite
		default:
			conflicts = append(conflicts, TagConflict{Service: img.Service, Ref: tagRef.String(), Existing: existing, Want: pt.Digest})
		}
		plan.Images = append(plan.Images, pt)
	}
	if len(conflicts) > 0 {
		return nil, &TagConflictError{Conflicts: conflicts}
	}
	sort.Slice(plan.Images, func(i, j int) bool { return plan.Images[i].Service < plan.Images[j].Service })
	return plan, nil
}

// resolve turns img into a PlannedTag with a verified digest.
func (o *options) resolve(ctx context.Context, img ServiceImage) (PlannedTag, error) {
	src := img.Ref
	if img.Digest != "" {
		if _, err := v1.NewHash(img.Digest); err != nil {
			return PlannedTag{}, fmt.Errorf("service %q: invalid digest %q: %w", img.Service, img.Digest, err)
		}
		src = img.Repo + "@" + img.Digest
	} else if src == "" {
		return PlannedTag{}, fmt.Errorf("service %q: neither a digest nor a reference to resolve", img.Service)
	} else if !strings.ContainsAny(src, ":@/") {
		src = img.Repo + ":" + src
	}
	ref, err := name.ParseReference(src, o.nameOpts()...)
	if err != nil {
		return PlannedTag{}, fmt.Errorf("parsing reference %q: %w", src, err)
	}
	var desc *v1.Descriptor
	err = o.withRetry(ctx, "resolving "+src, func() error {
		var err error
		desc, err = remote.Head(ref, o.remoteOpts(ctx)...)
		return err
	})
	if err != nil {
		if isNotFound(err) {
			return PlannedTag{}, fmt.Errorf("service %q: resolving %q: %w", img.Service, src, ErrImageNotFound)
		}
		return PlannedTag{}, fmt.Errorf("service %q: %w", img.Service, err)
	}
	if img.Digest != "" && desc.Digest.String() != img.Digest {
		return PlannedTag{}, fmt.Errorf("service %q: registry answered digest %s for %q", img.Service, desc.Digest, src)
	}
	pt := PlannedTag{ServiceImage: img, Descriptor: *desc}
	pt.Digest = desc.Digest.String()
	return pt, nil
}

// head returns the digest ref points to, "" when it does not exist.
func (o *options) head(ctx context.Context, ref name.Reference) (string, error) {
	var digest string
	err := o.withRetry(ctx, "looking up "+ref.String(), func() error {
		desc, err := remote.Head(ref, o.remoteOpts(ctx)...)
		if err != nil {
			if isNotFound(err) {
				digest = ""
				return nil
			}
			return err
		}
		digest = desc.Digest.String()
		return nil
	})
	return digest, err
}

func isNotFound(err error) bool {
	var te *transport.Error
	return errors.As(err, &te) && te.StatusCode == http.StatusNotFound
}

// StampedImage is one image after stamping.
type StampedImage struct {
	PlannedTag
	// Written reports whether this run wrote the tag (false: it was
	// already in place).
	Written bool
}

// StampResult is the outcome of Apply.
type StampResult struct {
	// Tag is the release tag.
	Tag string
	// Images are sorted by service name; after a successful Apply every
	// tag has been read back from the registry and points to its digest.
	Images []StampedImage
}

// Written returns how many tags this run wrote.
func (r StampResult) Written() int {
	n := 0
	for _, i := range r.Images {
		if i.Written {
			n++
		}
	}
	return n
}

// Apply writes the plan's pending tags, then reads every tag back. A tag is
// written by fetching the image's manifest by digest and putting those
// exact bytes under the tag: no blob is read or written. Each operation is
// retried on transient errors; if one still fails, Apply stops and returns
// the error together with the images stamped so far (re-planning and
// applying again finishes the job, since tags already in place are left
// alone).
func (p *StampPlan) Apply(ctx context.Context) (StampResult, error) {
	o := p.opts
	res := StampResult{Tag: p.Tag}
	for _, pt := range p.Images {
		si := StampedImage{PlannedTag: pt}
		if pt.Action != TagDone {
			if err := o.retag(ctx, pt, p.Tag); err != nil {
				return res, err
			}
			si.Written = true
			o.logf("tagged %s:%s -> %s (%s)", pt.Repo, p.Tag, pt.Digest, pt.Action)
		}
		res.Images = append(res.Images, si)
	}
	images := make([]ServiceImage, len(p.Images))
	for i, pt := range p.Images {
		images[i] = pt.ServiceImage
		images[i].Digest = pt.Digest
	}
	mismatches, err := verify(ctx, o, images, p.Tag)
	if err != nil {
		return res, err
	}
	if len(mismatches) > 0 {
		return res, &VerifyError{Tag: p.Tag, Mismatches: mismatches}
	}
	return res, nil
}

// retag puts the manifest of pt's digest under tag.
func (o *options) retag(ctx context.Context, pt PlannedTag, tag string) error {
	src, err := name.NewDigest(pt.Repo+"@"+pt.Digest, o.nameOpts()...)
	if err != nil {
		return fmt.Errorf("parsing reference %q: %w", pt.Repo+"@"+pt.Digest, err)
	}
	dst, err := name.NewTag(pt.Repo+":"+tag, o.nameOpts()...)
	if err != nil {
		return fmt.Errorf("parsing reference %q: %w", pt.Repo+":"+tag, err)
	}
	var desc *remote.Descriptor
	if err := o.withRetry(ctx, "fetching manifest "+src.String(), func() error {
		var err error
		desc, err = remote.Get(src, o.remoteOpts(ctx)...)
		return err
	}); err != nil {
		return err
	}
	if desc.Digest.String() != pt.Digest {
		return fmt.Errorf("fetching manifest %s: registry returned digest %s", src, desc.Digest)
	}
	return o.withRetry(ctx, "tagging "+dst.String(), func() error {
		return remote.Tag(dst, desc, o.remoteOpts(ctx)...)
	})
}

// Stamp is Plan followed by Apply.
func Stamp(ctx context.Context, images []ServiceImage, tag string, opts ...Option) (StampResult, error) {
	p, err := Plan(ctx, images, tag, opts...)
	if err != nil {
		return StampResult{}, err
	}
	return p.Apply(ctx)
}

// Mismatch is one tag that does not point to the expected digest.
type Mismatch struct {
	// Service is the service's name.
	Service string
	// Ref is REPO:TAG.
	Ref string
	// Want is the expected digest.
	Want string
	// Got is the digest the tag points to, "" when it does not exist.
	Got string
}

// VerifyError reports tags that do not match after stamping.
type VerifyError struct {
	Tag        string
	Mismatches []Mismatch
}

// Error lists the mismatching tags.
func (e *VerifyError) Error() string {
	var parts []string
	for _, m := range e.Mismatches {
		got := m.Got
		if got == "" {
			got = "nothing"
		}
		parts = append(parts, fmt.Sprintf("%s points to %s, want %s", m.Ref, got, m.Want))
	}
	return fmt.Sprintf("verifying tag %q: %s", e.Tag, strings.Join(parts, "; "))
}

// Verify reads tag back from every image's repository (HEAD requests) and
// returns the ones that do not point to the image's Digest.
func Verify(ctx context.Context, images []ServiceImage, tag string, opts ...Option) ([]Mismatch, error) {
	return verify(ctx, makeOptions(opts), images, tag)
}

func verify(ctx context.Context, o *options, images []ServiceImage, tag string) ([]Mismatch, error) {
	var out []Mismatch
	for _, img := range images {
		ref, err := name.NewTag(img.Repo+":"+tag, o.nameOpts()...)
		if err != nil {
			return nil, fmt.Errorf("parsing reference %q: %w", img.Repo+":"+tag, err)
		}
		got, err := o.head(ctx, ref)
		if err != nil {
			return nil, err
		}
		if got != img.Digest {
			out = append(out, Mismatch{Service: img.Service, Ref: ref.String(), Want: img.Digest, Got: got})
		}
	}
	return out, nil
}

// Ping checks that the registry of repo (HOST or HOST/NAMESPACE) answers
// the registry API, authenticating with the keychain if it asks to.
func Ping(ctx context.Context, repo string, opts ...Option) error {
	o := makeOptions(opts)
	host, _, _ := strings.Cut(repo, "/")
	reg, err := name.NewRegistry(host, o.nameOpts()...)
	if err != nil {
		return fmt.Errorf("parsing registry %q: %w", host, err)
	}
	auth, err := o.keychain.Resolve(reg)
	if err != nil {
		return fmt.Errorf("resolving credentials for %q: %w", host, err)
	}
	return o.withRetry(ctx, "reaching registry "+host, func() error {
		_, err := transport.NewWithContext(ctx, reg, auth, o.transport, nil)
		return err
	})
}
