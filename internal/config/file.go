package config

import (
	"errors"
	"fmt"
	"io"
	"os"

	"gopkg.in/yaml.v3"
)

// LoadFile reads a YAML config file over the defaults, as `bsc check
// --config FILE` validates it. Keys are the flag names (log-level,
// fault-injection, ...); an unknown key, a repeated key or a bad value is an
// error naming the file and line.
func LoadFile(path string) (Config, error) {
	cfg := Default()
	f, err := os.Open(path)
	if err != nil {
		return Config{}, fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	if err := applyYAML(&cfg, f); err != nil {
		return Config{}, fmt.Errorf("config file %s: %w", path, err)
	}
	cfg.Config = path
	return cfg, nil
}

func applyYAML(cfg *Config, r io.Reader) error {
	var doc yaml.Node
	dec := yaml.NewDecoder(r)
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil // an empty file changes nothing
	case err != nil:
		return err
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return errors.New("more than one YAML document")
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping of flag names to values", root.Line)
	}
	fs := flagSet(cfg)
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		f := fs.Lookup(key.Value)
		if f == nil || key.Value == "config" {
			return fmt.Errorf("line %d: unknown key %q", key.Line, key.Value)
		}
		if seen[key.Value] {
			return fmt.Errorf("line %d: %s given twice", key.Line, key.Value)
		}
		seen[key.Value] = true
		if val.Kind != yaml.ScalarNode {
			return fmt.Errorf("line %d: %s: want a single value", val.Line, key.Value)
		}
		if err := f.Value.Set(val.Value); err != nil {
			return fmt.Errorf("line %d: %s: %w", val.Line, key.Value, err)
		}
	}
	return nil
}
