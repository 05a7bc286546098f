//go:build !cgo || noaravis

package genicam

import "context"

// FeatureInfo fails with ErrNoAravis.
func (c *Camera) FeatureInfo(ctx context.Context, name string) (FeatureInfo, error) {
	return FeatureInfo{}, ErrNoAravis
}

// CheckFeature fails with ErrNoAravis.
func (c *Camera) CheckFeature(ctx context.Context, name, value string) error { return ErrNoAravis }

// SetFeature fails with ErrNoAravis.
func (c *Camera) SetFeature(ctx context.Context, name, value string) error { return ErrNoAravis }

// FeatureValue fails with ErrNoAravis.
func (c *Camera) FeatureValue(ctx context.Context, name string) (string, error) {
	return "", ErrNoAravis
}

// Firmware returns "".
func (c *Camera) Firmware(ctx context.Context) string { return "" }
