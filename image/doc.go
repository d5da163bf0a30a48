// Package image builds, stores and pushes convoy's OCI images with
// go-containerregistry, without a container daemon (the way ko and rules_oci do
// it).
//
// An image is a base image (LoadBase) plus up to two layers: the service's
// pinned dependencies installed by uv (package python) for the base's full
// Python version and platform, BaseImage.Target (/app/site-packages), and its
// source with its shared libs (/app/src, /app/libs/NAME) — exactly the files
// SourceFiles lists: what git lists, minus .dockerignored and dev-only files.
// Build is reproducible: the same inputs give the same digest. InputHash names
// those inputs, and only those; Store (an OCI image layout) and LookupRemote
// find an image by that hash so that an unchanged service is not rebuilt.
package image
