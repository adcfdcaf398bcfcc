package engine

import (
	"context"
	"errors"
	"io"
)

// Engine is what nixify needs from a Docker engine. Commands depend on this interface only.
type Engine interface {
	// Ping checks the engine answers and returns the API version both sides agreed on.
	Ping(ctx context.Context) (apiVersion string, err error)
	// Version describes the engine.
	Version(ctx context.Context) (Version, error)
	// Endpoint is where the engine was reached.
	Endpoint() Endpoint
	Close() error

	Images
}

// Version is the engine's own description of itself.
type Version struct {
	Version       string `json:"version"`
	APIVersion    string `json:"apiVersion"`
	MinAPIVersion string `json:"minApiVersion"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
}

// Image is what the engine knows of one image it holds.
type Image struct {
	ID           string            `json:"id"` // sha256 of the image config: equals the config digest
	RepoTags     []string          `json:"repoTags"`
	Architecture string            `json:"architecture"`
	OS           string            `json:"os"`
	Size         int64             `json:"size"`
	Created      string            `json:"created"`
	Labels       map[string]string `json:"labels,omitempty"`
}

// ErrNotFound is returned (wrapped) when the engine does not hold the image, container or volume.
var ErrNotFound = errors.New("not found")

// Images is the image part of Engine.
type Images interface {
	// ImageInspect describes an image by name or ID; errors.Is(err, ErrNotFound) when absent.
	ImageInspect(ctx context.Context, ref string) (Image, error)
	// ImageSave streams the images as a docker-archive tarball.
	ImageSave(ctx context.Context, refs ...string) (io.ReadCloser, error)
}
