package config

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/bsc-sim/bsc/internal/suggest"
)

// LoadFile reads a YAML config file over the defaults, as `bsc check
// --config FILE` validates it. Keys are the flag names (log-level,
// fault-injection, ...); a value that is a list (frequencies) may also be a
// YAML sequence. Every unknown key, repeated key and bad value is reported,
// each as one line naming the file and line (errors.Join).
func LoadFile(path string) (Config, error) {
	cfg := Default()
	if errs := applyFile(&cfg, path); len(errs) > 0 {
		return Config{}, errors.Join(errs...)
	}
	cfg.Config = path
	if err := cfg.checkCluster(); err != nil {
		return Config{}, fmt.Errorf("config file %s: %w", path, err)
	}
	return cfg, nil
}

// applyFile sets cfg from the file at path, and returns what is wrong with
// it.
func applyFile(cfg *Config, path string) []error {
	f, err := os.Open(path)
	if err != nil {
		return []error{fmt.Errorf("config file: %w", err)}
	}
	defer f.Close()
	errs := applyYAML(cfg, f)
	for i, err := range errs {
		errs[i] = fmt.Errorf("config file %s: %w", path, err)
	}
	return errs
}

func applyYAML(cfg *Config, r io.Reader) []error {
	var doc yaml.Node
	dec := yaml.NewDecoder(r)
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil // an empty file changes nothing
	case err != nil:
		return []error{err}
	}
	if err := dec.Decode(new(yaml.Node)); !errors.Is(err, io.EOF) {
		return []error{errors.New("more than one YAML document")}
	}
	root := doc.Content[0]
	if root.Kind == yaml.ScalarNode && root.Tag == "!!null" {
		return nil // only comments
	}
	if root.Kind != yaml.MappingNode {
		return []error{fmt.Errorf("line %d: want a mapping of flag names to values", root.Line)}
	}
	fs := flagSet(cfg)
	var keys []string
	fs.VisitAll(func(f *pflag.Flag) {
		if f.Name != "config" {
			keys = append(keys, f.Name)
		}
	})
	var errs []error
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		key, val := root.Content[i], root.Content[i+1]
		f := fs.Lookup(key.Value)
		switch {
		case f == nil || key.Value == "config":
			errs = append(errs, fmt.Errorf("line %d: unknown key %q%s", key.Line, key.Value,
				suggest.DidYouMean(key.Value, keys, strconv.Quote)))
		case seen[key.Value]:
			errs = append(errs, fmt.Errorf("line %d: %s given twice", key.Line, key.Value))
		default:
			seen[key.Value] = true
			errs = append(errs, setValue(key.Value, f.Value, val)...)
		}
	}
	return errs
}

// setValue sets v, the value of key, from the YAML node val: a scalar, or a
// sequence of scalars if v is a list.
func setValue(key string, v pflag.Value, val *yaml.Node) []error {
	list, isList := v.(listValue)
	switch {
	case val.Kind == yaml.ScalarNode:
		if err := v.Set(val.Value); err != nil {
			return []error{fmt.Errorf("line %d: %s: %w", val.Line, key, err)}
		}
		return nil
	case isList && val.Kind == yaml.SequenceNode:
		return setList(key, list, val)
	case isList:
		return []error{fmt.Errorf("line %d: %s: want a value or a list of values", val.Line, key)}
	}
	return []error{fmt.Errorf("line %d: %s: want a single value", val.Line, key)}
}

// setList checks each item of the sequence seq alone, naming its line,
// then sets v to the items joined as a flag gives them, which checks them
// together (the same frequency in two items, say).
func setList(key string, v listValue, seq *yaml.Node) []error {
	if len(seq.Content) == 0 {
		return []error{fmt.Errorf("line %d: %s: empty list", seq.Line, key)}
	}
	var errs []error
	items := make([]string, len(seq.Content))
	for i, item := range seq.Content {
		items[i] = item.Value
		var err error
		switch {
		case item.Kind != yaml.ScalarNode:
			err = errors.New("want a single value")
		case strings.Contains(item.Value, ","):
			err = fmt.Errorf("%q has a comma: give each value an item of its own", item.Value)
		default:
			err = v.checkItem(item.Value)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("line %d: %s item %d: %w", item.Line, key, i+1, err))
		}
	}
	if len(errs) > 0 {
		return errs
	}
	if err := v.Set(strings.Join(items, ",")); err != nil {
		return []error{fmt.Errorf("line %d: %s: %w", seq.Line, key, err)}
	}
	return nil
}
