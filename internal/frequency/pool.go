package frequency

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/bsc-sim/bsc/internal/errcode"
)

// ErrInvalidPool is a pool that is empty, has duplicates or non-positive values.
var ErrInvalidPool = errcode.New(errcode.InvalidRequest, "invalid frequency pool")

// MaxPoolSize bounds a pool so a typo like "1-1000000000" is refused rather
// than allocated.
const MaxPoolSize = 100_000

// ParsePool reads a pool written as ranges and values, such as
// "10-15,20,22-24", keeping the order given.
func ParsePool(s string) ([]int, error) {
	var pool []int
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		lo, hi, isRange := strings.Cut(part, "-")
		first, err := strconv.Atoi(strings.TrimSpace(lo))
		if err != nil {
			return nil, fmt.Errorf("%w: %q is not a frequency or range", ErrInvalidPool, part)
		}
		last := first
		if isRange {
			if last, err = strconv.Atoi(strings.TrimSpace(hi)); err != nil || last < first {
				return nil, fmt.Errorf("%w: %q is not a range low-high", ErrInvalidPool, part)
			}
		}
		if last-first >= MaxPoolSize || len(pool)+last-first >= MaxPoolSize {
			return nil, fmt.Errorf("%w: more than %d frequencies", ErrInvalidPool, MaxPoolSize)
		}
		for f := first; f <= last; f++ {
			pool = append(pool, f)
		}
	}
	return pool, ValidatePool(pool)
}

// ValidatePool checks a pool is non-empty, positive and without duplicates.
func ValidatePool(pool []int) error {
	if len(pool) == 0 {
		return fmt.Errorf("%w: empty", ErrInvalidPool)
	}
	if len(pool) > MaxPoolSize {
		return fmt.Errorf("%w: more than %d frequencies", ErrInvalidPool, MaxPoolSize)
	}
	seen := make(map[int]bool, len(pool))
	for _, f := range pool {
		if f <= 0 {
			return fmt.Errorf("%w: %d is not positive", ErrInvalidPool, f)
		}
		if seen[f] {
			return fmt.Errorf("%w: %d appears twice", ErrInvalidPool, f)
		}
		seen[f] = true
	}
	return nil
}
