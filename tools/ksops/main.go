// ksops: the project's KSOPS-compatible kustomize exec plugin, for ArgoCD's repo-server.
//
// kustomize (--enable-alpha-plugins --enable-exec) runs it for a generator of kind ksops
// (apiVersion viaduct.ai/v1): a KRM ResourceList on stdin whose functionConfig lists
// `files:`, or (legacy exec protocol) the generator file as the one argument. Each file is
// decrypted in memory with sops's own library (the age key from SOPS_AGE_KEY_FILE) and its
// objects are printed; nothing is written to disk. `ksops install <dir>` copies the binary
// into <dir> without a shell, as upstream KSOPS >= 4.5 does in its init container.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/getsops/sops/v3/decrypt"
	"github.com/goccy/go-yaml"
)

const kind = "ksops"

// sopsVersion: the sops release whose library decrypts (-X main.sopsVersion at build time).
var sopsVersion = "unknown"

func main() {
	if err := run(os.Args[1:], os.Stdin, os.Stdout); err != nil {
		fmt.Fprintf(os.Stderr, "ksops: error: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintf(stdout, "ksops (gitops-lab) on sops %s\n", sopsVersion)
		return nil
	}
	if len(args) == 2 && args[0] == "install" {
		return install(args[1])
	}
	if len(args) == 1 { // legacy exec plugin: the generator file, objects as YAML documents
		data, err := os.ReadFile(args[0])
		if err != nil {
			return err
		}
		objects, err := generate(data, false)
		if err != nil {
			return err
		}
		for _, obj := range objects {
			out, err := yaml.Marshal(obj)
			if err != nil {
				return err
			}
			fmt.Fprintf(stdout, "---\n%s", out)
		}
		return nil
	}
	if len(args) > 1 {
		return errors.New("usage: ksops [GENERATOR_FILE] | ksops install DIR")
	}
	data, err := io.ReadAll(stdin)
	if err != nil {
		return err
	}
	objects, err := generate(data, true)
	if err != nil {
		return err
	}
	list := map[string]any{
		"apiVersion": "config.kubernetes.io/v1",
		"kind":       "ResourceList",
		"items":      objects,
	}
	return json.NewEncoder(stdout).Encode(list) // JSON is YAML: kustomize reads it as such
}

// generate decrypts every file the generator lists (relative to the working folder).
func generate(data []byte, resourceList bool) ([]any, error) {
	var doc map[string]any
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("the generator: %w", err)
	}
	if resourceList && doc["kind"] == "ResourceList" {
		config, _ := doc["functionConfig"].(map[string]any)
		doc = config
	}
	if doc["kind"] != kind {
		return nil, fmt.Errorf("expected a generator of kind %s, got %v", kind, doc["kind"])
	}
	files, _ := doc["files"].([]any)
	if len(files) == 0 {
		return nil, errors.New("the generator lists no `files:`")
	}
	var objects []any
	for _, entry := range files {
		name, ok := entry.(string)
		if !ok {
			return nil, fmt.Errorf("files: %v is not a path", entry)
		}
		plain, err := decrypt.File(name, "yaml")
		if err != nil {
			return nil, fmt.Errorf("%s: %w (the repo-server needs an age key of a recipient: SOPS_AGE_KEY_FILE)", name, err)
		}
		decoder := yaml.NewDecoder(bytes.NewReader(plain))
		for {
			var obj map[string]any
			err := decoder.Decode(&obj)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: %w", name, err)
			}
			if obj != nil {
				objects = append(objects, obj)
			}
		}
	}
	return objects, nil
}

// install copies this executable to dir/ksops (mode 0755), replacing it atomically.
func install(dir string) error {
	self, err := os.Executable()
	if err != nil {
		return err
	}
	data, err := os.ReadFile(self)
	if err != nil {
		return err
	}
	partial := filepath.Join(dir, ".ksops.partial")
	if err := os.WriteFile(partial, data, 0o755); err != nil {
		return err
	}
	return os.Rename(partial, filepath.Join(dir, "ksops"))
}
