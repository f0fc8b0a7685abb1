// Package webui holds the web observer (docs/observer.md): one page, its
// style sheet and its JavaScript modules, embedded in the binary so that
// bsc serve needs nothing else and the page loads nothing from elsewhere.
// The page reads the API's JSON routes and its event stream; internal/httpapi
// serves these files at /ui/ (this package speaks no HTTP).
//
// There is no build step: the files in assets are what the browser gets.
package webui

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"maps"
	"path"
	"slices"
)

// ContentSecurityPolicy is the policy the observer's files are served
// with: everything from the server itself (script, style, the event
// stream, the JSON routes), no inline script or style, no frame around the
// page, no plug-in, no form posted anywhere.
const ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'none'; " +
	"frame-ancestors 'none'; object-src 'none'"

// Index is the file served for the directory itself (/ui/).
const Index = "index.html"

//go:embed assets
var embedded embed.FS

// File is one of the observer's files, ready to be served.
type File struct {
	Name        string
	Body        []byte
	ContentType string
	// ETag is a strong validator of Body (a digest, quoted), so that a
	// browser revalidates rather than downloads again.
	ETag string
}

// contentTypes are the types of the files there are, by extension: a
// table of our own rather than the system's (mime.TypeByExtension reads
// /etc/mime.types, which differs between machines).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
}

// files are the embedded files by name, read once.
var files = func() map[string]File {
	m := map[string]File{}
	err := fs.WalkDir(embedded, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := embedded.ReadFile(p)
		if err != nil {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			panic("webui: no content type for " + p) // a file added without its type
		}
		sum := sha256.Sum256(body)
		name := path.Base(p)
		m[name] = File{Name: name, Body: body, ContentType: ct, ETag: `"` + hex.EncodeToString(sum[:16]) + `"`}
		return nil
	})
	if err != nil {
		panic("webui: reading the embedded files: " + err.Error())
	}
	return m
}()

// Lookup is the file of that name ("" is Index); false if there is none.
// The files are flat: a name never holds a slash.
func Lookup(name string) (File, bool) {
	if name == "" {
		name = Index
	}
	f, ok := files[name]
	return f, ok
}

// Names lists the files' names, sorted.
func Names() []string { return slices.Sorted(maps.Keys(files)) }
