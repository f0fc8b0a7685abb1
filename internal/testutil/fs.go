package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// Tmpfs mounts a tmpfs of size bytes on a new temporary directory, for
// tests that fill a disk; it is unmounted when the test ends. Mounting
// needs root, which CI has (.ci/run runs as root): the test fails, not
// skips, without it.
func Tmpfs(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, fmt.Sprintf("size=%d,mode=0777", size)); err != nil {
		t.Fatalf("mount a tmpfs on %s (needs root, as in CI): %v", dir, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, syscall.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// MakeReadOnly makes the file system holding dir (a Tmpfs) read-only,
// even for root.
func MakeReadOnly(t testing.TB, dir string) {
	t.Helper()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", syscall.MS_REMOUNT|syscall.MS_RDONLY, ""); err != nil {
		t.Fatalf("remount %s read-only: %v", dir, err)
	}
}

// FillUp writes zeros to a file in dir until its file system is full and
// returns the file's path: removing it frees the space.
func FillUp(t testing.TB, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "filler")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			break // ENOSPC: full
		}
	}
	// The last partial block, so that not even a page is left.
	small := make([]byte, 512)
	for {
		if _, err := f.Write(small); err != nil {
			return path
		}
	}
}

// fsImmutableFL is FS_IMMUTABLE_FL of <linux/fs.h>, which x/sys/unix
// does not name.
const fsImmutableFL = 0x10

// Immutable sets the immutable attribute on path (chattr +i), which stops
// even root from writing it, until the test ends. It needs root and a file
// system with the attribute (ext4, tmpfs).
func Immutable(t testing.TB, path string) {
	t.Helper()
	setFlags := func(on bool) error {
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		flags, err := unix.IoctlGetUint32(int(f.Fd()), unix.FS_IOC_GETFLAGS)
		if err != nil {
			return err
		}
		if on {
			flags |= fsImmutableFL
		} else {
			flags &^= fsImmutableFL
		}
		return unix.IoctlSetPointerInt(int(f.Fd()), unix.FS_IOC_SETFLAGS, int(flags))
	}
	if err := setFlags(true); err != nil {
		t.Fatalf("make %s immutable (needs root, as in CI): %v", path, err)
	}
	t.Cleanup(func() {
		if err := setFlags(false); err != nil {
			t.Errorf("make %s mutable again: %v", path, err)
		}
	})
}
