package imagetest

import (
	"context"

	"github.com/nixify/nixify/internal/image"
)

// First is the first image of what image.Open returned, for sources that hold one image.
func First(s *image.Set, err error) (*image.Image, error) {
	if err != nil {
		return nil, err
	}
	return s.Images[0], nil
}

// Open parses arg as a user would give it and opens its first image.
func Open(arg string, opts ...image.Option) (*image.Image, error) {
	ref, err := image.Parse(arg)
	if err != nil {
		return nil, err
	}
	return First(image.Open(context.Background(), ref, opts...))
}

// OpenSet parses arg as a user would give it and opens every image it names.
func OpenSet(arg string, opts ...image.Option) (*image.Set, error) {
	ref, err := image.Parse(arg)
	if err != nil {
		return nil, err
	}
	return image.Open(context.Background(), ref, opts...)
}

// ReadFile scans the archive at p (plain, gzip or zstd).
func ReadFile(p string) (*image.Archive, error) {
	img, err := Open(p)
	if err != nil {
		return nil, err
	}
	defer img.Close()
	return img.Scan()
}
