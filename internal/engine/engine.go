package engine

import (
	"context"
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
}

// Version is the engine's own description of itself.
type Version struct {
	Version       string `json:"version"`
	APIVersion    string `json:"apiVersion"`
	MinAPIVersion string `json:"minApiVersion"`
	OS            string `json:"os"`
	Arch          string `json:"arch"`
}
