// Package publish ships images to a registry. It knows registries and nothing about Nix: its input
// is a v1.Image per architecture (from package image) or the digests of images already pushed.
//
// A push is a Plan, then its execution. The plan says everything the push writes: each
// architecture's manifest by digest, the OCI index, the tags and the annotations. A dry run prints
// the plan; the real push executes that same plan, so the two cannot drift. Execution writes every
// image by digest, then the index by digest, and only then moves the tags: when anything fails
// before the tags, no tag points to an incomplete index.
package publish

import (
	"github.com/nixify/nixify/internal/registryclient"
)

// Publisher pushes to one repository.
type Publisher struct {
	c     *registryclient.Client
	count *counter
}

// New opens a repository for publishing: the reference is parsed and the credentials resolved
// once, for the plan and the push alike.
func New(repo string, opts ...registryclient.Option) (*Publisher, error) {
	c, err := registryclient.New(repo, opts...)
	if err != nil {
		return nil, err
	}
	p := &Publisher{c: c, count: &counter{}}
	c.WrapTransport(p.count.wrap)
	return p, nil
}

// Repo is the repository's full name.
func (p *Publisher) Repo() string { return p.c.Repo.Name() }
