package webui

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestFiles: the page is there, under "" too, and every file has its
// content type and a validator of its own.
func TestFiles(t *testing.T) {
	index, ok := Lookup("")
	if !ok || index.Name != Index || index.ContentType != "text/html; charset=utf-8" {
		t.Fatalf(`Lookup(""): %v %q %q, want %s as HTML`, ok, index.Name, index.ContentType, Index)
	}
	want := map[string]string{
		"app.js":      "text/javascript; charset=utf-8",
		"style.css":   "text/css; charset=utf-8",
		"favicon.svg": "image/svg+xml",
	}
	for name, ct := range want {
		if f, ok := Lookup(name); !ok || f.ContentType != ct {
			t.Errorf("Lookup(%q): %v, content type %q; want %q", name, ok, f.ContentType, ct)
		}
	}
	etags := map[string]string{}
	for _, name := range Names() {
		f, _ := Lookup(name)
		if len(f.Body) == 0 || f.ContentType == "" || !strings.HasPrefix(f.ETag, `"`) {
			t.Errorf("%s: %d bytes, content type %q, ETag %q", name, len(f.Body), f.ContentType, f.ETag)
		}
		if other, ok := etags[f.ETag]; ok {
			t.Errorf("%s and %s have the same ETag %s", name, other, f.ETag)
		}
		etags[f.ETag] = name
	}
	for _, name := range []string{"nope.js", "../webui.go", "assets/app.js"} {
		if _, ok := Lookup(name); ok {
			t.Errorf("Lookup(%q) found a file", name)
		}
	}
}

// svgNamespace is the one absolute URL an asset may hold: the name of
// SVG's XML namespace, which no browser fetches.
const svgNamespace = `xmlns="http://www.w3.org/2000/svg"`

// externalURL is what would make the browser reach another server: an
// absolute or scheme-relative URL, or an import by bare name (a CDN's or a
// bundler's).
var externalURL = regexp.MustCompile(`(?i)(https?:|wss?:|ftp:)//|(src|href)\s*=\s*["']?//|url\(\s*["']?//`)

// TestNothingFromElsewhere: no file names another server. The page would
// fail under its Content-Security-Policy anyway; this fails first, and
// says where.
func TestNothingFromElsewhere(t *testing.T) {
	for _, name := range Names() {
		f, _ := Lookup(name)
		text := string(f.Body)
		if strings.HasSuffix(name, ".svg") {
			text = strings.Replace(text, svgNamespace, "", 1)
		}
		for i, line := range strings.Split(text, "\n") {
			if externalURL.MatchString(line) {
				t.Errorf("%s:%d names another server: %s", name, i+1, strings.TrimSpace(line))
			}
		}
	}
}

var (
	htmlRef   = regexp.MustCompile(`(?:src|href)="([^"#]+)"`)
	jsImport  = regexp.MustCompile(`(?m)^import\s[^'"]*['"]([^'"]+)['"]`)
	inlineCSS = regexp.MustCompile(`\sstyle\s*=`)
	inlineJS  = regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]|\son[a-z]+\s*=`)
)

// TestReferences: every file the page or a module names is there, under
// a relative name; every file is named by one (none left over); the page
// has no inline script, handler or style, which its policy would block.
func TestReferences(t *testing.T) {
	named := map[string]bool{Index: true}
	check := func(from, ref string) {
		if strings.HasPrefix(ref, "/") || strings.Contains(ref, ":") {
			t.Errorf("%s names %q: files are named relative to the page", from, ref)
			return
		}
		name := strings.TrimPrefix(ref, "./")
		if _, ok := Lookup(name); !ok {
			t.Errorf("%s names %q, which is no file of the observer", from, ref)
		}
		named[name] = true
	}
	index, _ := Lookup(Index)
	for _, m := range htmlRef.FindAllStringSubmatch(string(index.Body), -1) {
		check(Index, m[1])
	}
	if inlineCSS.Match(index.Body) || inlineJS.Match(index.Body) {
		t.Errorf("%s has an inline script, handler or style attribute", Index)
	}
	for _, name := range Names() {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		f, _ := Lookup(name)
		for _, m := range jsImport.FindAllStringSubmatch(string(f.Body), -1) {
			check(name, m[1])
		}
	}
	for _, name := range Names() {
		if !named[name] {
			t.Errorf("%s is named by no file: dead", name)
		}
	}
	if !slices.Contains(Names(), "app.js") {
		t.Error("no app.js")
	}
}
