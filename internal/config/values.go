package config

import (
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bsc-sim/bsc/internal/frequency"
	"github.com/rs/zerolog"
	"github.com/spf13/pflag"
)

// The pflag.Value types below validate as they parse, so flags, variables
// and the file share one definition of a good value. Type names the value
// in help: --listen host:port.

// LogLevels are the names --log-level takes, most verbose first: zerolog's
// levels, spelled here once for the flag's help, its error, its completion
// and the file.
var LogLevels = logLevels()

func logLevels() []string {
	var names []string
	for l := zerolog.TraceLevel; l <= zerolog.Disabled; l++ {
		if name := l.String(); name != "" { // NoLevel has no name
			names = append(names, name)
		}
	}
	return names
}

// A listValue is a value that is a list, written "a,b" in a flag or a
// variable; in the file it may also be a YAML sequence [a, b], whose items
// are checked one by one, so that a bad one is named with its line.
type listValue interface {
	pflag.Value
	// checkItem tells whether s is a good item alone; the whole list is
	// then checked by Set.
	checkItem(s string) error
}

type addrValue string

func (v *addrValue) String() string { return string(*v) }
func (v *addrValue) Type() string   { return "host:port" }

func (v *addrValue) Set(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not a host:port address", s)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("port %q is not a number from 0 to 65535", port)
	}
	*v = addrValue(s)
	return nil
}

// optionalAddr is a host:port address or empty (off).
type optionalAddr string

func (v *optionalAddr) String() string { return string(*v) }
func (v *optionalAddr) Type() string   { return "host:port" }

func (v *optionalAddr) Set(s string) error {
	if s == "" {
		*v = ""
		return nil
	}
	if err := (*addrValue)(v).Set(s); err != nil {
		return err
	}
	return nil
}

type nonEmptyValue string

func (v *nonEmptyValue) String() string { return string(*v) }
func (v *nonEmptyValue) Type() string   { return "string" }

func (v *nonEmptyValue) Set(s string) error {
	if strings.TrimSpace(s) == "" {
		return errors.New("must not be empty")
	}
	*v = nonEmptyValue(s)
	return nil
}

// poolValue is a frequency pool: values and ranges such as 10-15,20.
type poolValue string

func (v *poolValue) String() string { return string(*v) }
func (v *poolValue) Type() string   { return "list" }

func (v *poolValue) checkItem(s string) error {
	_, err := frequency.ParsePool(s)
	return err
}

func (v *poolValue) Set(s string) error {
	if _, err := frequency.ParsePool(s); err != nil {
		return err
	}
	*v = poolValue(s)
	return nil
}

// boolValue is true or false; its flag stands alone for true
// (--fault-injection), its NoOptDefVal being "true".
type boolValue bool

func (v *boolValue) String() string { return strconv.FormatBool(bool(*v)) }
func (v *boolValue) Type() string   { return "bool" }

func (v *boolValue) Set(s string) error {
	b, err := strconv.ParseBool(s)
	if err != nil {
		return fmt.Errorf("%q is not true or false", s)
	}
	*v = boolValue(b)
	return nil
}

type levelValue zerolog.Level

func (v *levelValue) String() string { return zerolog.Level(*v).String() }
func (v *levelValue) Type() string   { return "level" }

// Set accepts the names of LogLevels only, in any case: zerolog.ParseLevel
// also takes "" and numbers, which in a config file are more likely
// mistakes than intent.
func (v *levelValue) Set(s string) error {
	name := strings.ToLower(s)
	l, err := zerolog.ParseLevel(name)
	if err != nil || !slices.Contains(LogLevels, name) {
		return fmt.Errorf("unknown log level %q (%s)", s, strings.Join(LogLevels, ", "))
	}
	*v = levelValue(l)
	return nil
}

type positiveDuration time.Duration

func (v *positiveDuration) String() string { return time.Duration(*v).String() }
func (v *positiveDuration) Type() string   { return "duration" }

func (v *positiveDuration) Set(s string) error {
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return fmt.Errorf("%q is not a positive duration such as 10s", s)
	}
	*v = positiveDuration(d)
	return nil
}

type positiveInt int

func (v *positiveInt) String() string { return strconv.Itoa(int(*v)) }
func (v *positiveInt) Type() string   { return "int" }

func (v *positiveInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil || n <= 0 {
		return fmt.Errorf("%q is not a positive integer", s)
	}
	*v = positiveInt(n)
	return nil
}
