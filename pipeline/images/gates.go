package images

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/convoy-ci/convoy/image"
	"github.com/convoy-ci/convoy/pipeline/config"
	"github.com/convoy-ci/convoy/stages"
)

// GateKey is what decides whether svc's gates must run again although its image exists: the
// image's input hash, every file the gates see (what git lists of the service and its libs,
// tests and .dockerignored files included; image.TreeHash), every gate's argv, environment and
// whether findings fail it (lint_mode),
// the stage env's values included. An image holds none of it but the input hash, so a change
// to a test or to env: keeps the image and runs the gates again.
//
// The record that the gates passed for a key is kept on this machine (Options.GatesDir) and, with
// a push target, as the registry tag GatesTag(key) on the image, so that a fresh CI clone skips
// the gates of a service whose image and gate inputs some earlier run pushed. The key is a
// SHA-256 over the inputs: the stage env's values are those services.yaml commits, and no value
// can be read back from it. It is computed once per Builder.
func (b *Builder) GateKey(ctx context.Context, svc *config.Service) (string, error) {
	b.mu.Lock()
	k, ok := b.gateKeys[svc.Name]
	b.mu.Unlock()
	if ok {
		return k, nil
	}
	k, err := b.gateKey(ctx, svc)
	if err != nil {
		return "", fmt.Errorf("computing the gate key of %q: %w", svc.Name, err)
	}
	b.mu.Lock()
	b.gateKeys[svc.Name] = k
	b.mu.Unlock()
	return k, nil
}

func (b *Builder) gateKey(ctx context.Context, svc *config.Service) (string, error) {
	hash, err := b.InputHash(ctx, svc)
	if err != nil {
		return "", err
	}
	lines := []string{"convoy-gates-v1", "input " + hash}
	libs := append([]config.Lib{{Path: svc.Path, Dir: svc.Dir}}, svc.Libs...) // the service, then its libs
	for _, tree := range libs {
		h, err := image.TreeHash(tree.Dir)
		if err != nil {
			return "", err
		}
		lines = append(lines, fmt.Sprintf("tree %q %s", tree.Path, h))
	}
	for _, st := range stages.ForService(svc) {
		line := fmt.Sprintf("stage %q %q %q", st.Name, st.Commands, sortedEnv(st.Env))
		if st.Findings != nil && st.Findings.Warn { // passes with findings a failing mode would fail on
			line += fmt.Sprintf(" findings-pass %d", st.Findings.ExitCode)
		}
		lines = append(lines, line)
	}
	lines = append(lines, fmt.Sprintf("env %q", sortedEnv(svc.Env)))
	sum := sha256.Sum256([]byte(strings.Join(lines, "\n")))
	return hex.EncodeToString(sum[:]), nil
}

// GatesTag is the registry tag that says the gates passed for gate key key, on the image they
// passed with: "convoy-gates-" and the key's hex digits.
func GatesTag(key string) string { return "convoy-gates-" + key }

// remoteGatesPassed reports whether the push target holds the tag that says svc's gates passed
// for its current gate key, on the image digest.
func (b *Builder) remoteGatesPassed(ctx context.Context, svc *config.Service, digest string) (bool, error) {
	key, err := b.GateKey(ctx, svc)
	if err != nil {
		return false, err
	}
	d, ok, err := image.LookupRemoteTag(ctx, b.repo(svc), GatesTag(key), b.remoteOpts()...)
	if err != nil || !ok {
		return false, err
	}
	return d.DigestStr() == digest, nil
}

// gateRecord is the file that says svc's gates passed with gate key key.
func (b *Builder) gateRecord(svc *config.Service, key string) string {
	return filepath.Join(b.opts.GatesDir, svc.Name, key)
}

// gatesPassed reports whether svc's gates passed on this machine for its current gate key.
func (b *Builder) gatesPassed(ctx context.Context, svc *config.Service) (bool, error) {
	key, err := b.GateKey(ctx, svc)
	if err != nil {
		return false, err
	}
	_, err = os.Stat(b.gateRecord(svc, key))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("reading the gate record of %q: %w", svc.Name, err)
	}
	return true, nil
}

// recordGates records that svc's gates passed for its gate key, replacing older records.
func (b *Builder) recordGates(ctx context.Context, svc *config.Service) error {
	key, err := b.GateKey(ctx, svc)
	if err != nil {
		return err
	}
	dir := filepath.Dir(b.gateRecord(svc, key))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("recording that the gates of %q passed: %w", svc.Name, err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("recording that the gates of %q passed: %w", svc.Name, err)
	}
	if err := os.WriteFile(b.gateRecord(svc, key), nil, 0o644); err != nil {
		return fmt.Errorf("recording that the gates of %q passed: %w", svc.Name, err)
	}
	return nil
}

// sortedEnv lists env as sorted KEY=VALUE strings.
func sortedEnv(env map[string]string) []string {
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}
