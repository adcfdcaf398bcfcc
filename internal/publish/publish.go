// Package publish ships images to a registry. It knows registries and nothing about Nix: its input
// is a v1.Image per architecture (from package image) or the digests of images already pushed.
//
// As in ko, the command gathers options and the publisher decides: which tags a push writes
// (tags.go), whether latest is among them, the created time and the other annotations (plan.go),
// and how it writes (push.go). A push is a Plan, then its execution. The plan says everything the
// push writes: each architecture's manifest by digest, the OCI index, the documents attached to
// each image, the tags and the annotations. A dry run prints the plan; the real push executes
// that same plan, so the two cannot drift. Execution writes every image by digest, then the index
// by digest, then the attached documents, and only then moves the tags: when anything fails
// before the tags, no tag points to an incomplete index.
package publish

import (
	"errors"

	"github.com/nixify/nixify/internal/registryclient"
)

// Publisher pushes to one repository under one policy.
type Publisher struct {
	c     *registryclient.Client
	count *counter
	o     options
}

type options struct {
	tags    []string
	latest  bool
	source  string
	noIndex bool
	force   bool
	client  []registryclient.Option
}

// Option is a choice the command passes on; the publisher decides what follows from it.
type Option func(*options)

// WithTags adds tags for the index (--tag); each is checked against the tag grammar by New.
func WithTags(tags ...string) Option { return func(o *options) { o.tags = append(o.tags, tags...) } }

// WithLatest tags latest even off the default branch (on it, latest is tagged anyway).
func WithLatest(latest bool) Option { return func(o *options) { o.latest = latest } }

// WithSource is org.opencontainers.image.source for images whose labels lack it.
func WithSource(url string) Option { return func(o *options) { o.source = url } }

// WithoutIndex pushes the images and their per-architecture tags only; a later push of digest
// references, in another job, writes the index (CI builds each architecture on its own runner).
func WithoutIndex(without bool) Option { return func(o *options) { o.noIndex = without } }

// WithForce lets an index tag lose architectures: without it, a push whose index lacks an
// architecture that the tag's current index has is refused.
func WithForce(force bool) Option { return func(o *options) { o.force = force } }

// WithRegistry sets how the registry is talked to (credentials, transport, retries).
func WithRegistry(opts ...registryclient.Option) Option {
	return func(o *options) { o.client = append(o.client, opts...) }
}

// New opens a repository for publishing: the reference is parsed, the extra tags checked and the
// credentials resolved once, for the plan and the push alike. Its errors are the caller's input
// (a bad repository or tag) or the credential store's.
func New(repo string, opts ...Option) (*Publisher, error) {
	var o options
	for _, f := range opts {
		f(&o)
	}
	for _, t := range o.tags {
		if err := ValidTag(t); err != nil {
			return nil, err
		}
	}
	if o.noIndex && len(o.tags) > 0 {
		return nil, errors.New("extra tags name the index, which a push without an index does not write: tag the index where it is written (--index-from)")
	}
	c, err := registryclient.New(repo, o.client...)
	if err != nil {
		return nil, err
	}
	p := &Publisher{c: c, count: &counter{}, o: o}
	c.WrapTransport(p.count.wrap)
	return p, nil
}

// Repo is the repository's full name.
func (p *Publisher) Repo() string { return p.c.Repo.Name() }
