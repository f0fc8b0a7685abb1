package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// A real browser for the web observer's tests: Debian's chromium, headless,
// driven over the DevTools protocol by chromedp (.ci/run installs it).

// uiWait bounds one change showing on the page: the page looks every 2 s,
// the test's machine is slow and shared.
const uiWait = 20 * time.Second

// Viewports of the screenshots: a laptop's, and a phone's.
var (
	laptop = viewport{"laptop", 1366, 900, false}
	phoneV = viewport{"phone", 390, 844, true}
)

type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

// browser is a tab of a headless Chromium showing a page.
type browser struct {
	t   *testing.T
	ctx context.Context // the tab's: its cancel closes the browser

	mu      sync.Mutex
	console []chromedp.ConsoleMessage // what the page wrote to its console
}

// openBrowser starts Chromium and opens url in a laptop-sized tab; the
// browser is closed when the test ends. The page's console is kept: an
// exception or a content security policy violation fails the test.
func openBrowser(t *testing.T, url string) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.WindowSize(int(laptop.width), int(laptop.height)))
	if os.Geteuid() == 0 {
		opts = append(opts, chromedp.NoSandbox) // Chromium's sandbox refuses to run as root (CI)
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	b := &browser{t: t, ctx: ctx}
	// The first action starts the browser, bound to ctx: no timeout here.
	if err := chromedp.Do(ctx); err != nil {
		cancelTab()
		cancelAlloc()
		t.Fatalf("starting chromium (apt-get install chromium; .ci/run does): %v", err)
	}
	messages := chromedp.Console(ctx)
	read := make(chan struct{})
	go func() {
		defer close(read)
		for m, err := range messages {
			if err != nil {
				return // the tab is gone
			}
			b.mu.Lock()
			b.console = append(b.console, m)
			b.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
		<-read
		b.checkConsole()
	})
	b.do("open "+url, chromedp.Navigate(url))
	return b
}

// checkConsole logs what the page wrote to its console, and fails the
// test on an exception or a policy violation. Errors of requests (a 404
// of a detached phone's process, a 503 while a node fails over) are what
// the page shows, not faults of its own.
func (b *browser) checkConsole() {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, m := range b.console {
		text := m.String()
		b.t.Logf("console %s: %s", m.Type, text)
		if m.IsException() || strings.Contains(text, "Content Security Policy") {
			b.t.Errorf("the page failed: %s", text)
		}
	}
}

// do runs actions on the tab within uiWait.
func (b *browser) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, uiWait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.fail(what, err)
	}
}

// waitFor waits until the page has an element matching selector (CSS),
// within limit (0: uiWait): how the page is seen to show a change. It is
// checked at each change of the DOM, not in a loop of our own.
func (b *browser) waitFor(what, selector string, limit ...time.Duration) {
	b.t.Helper()
	b.waitUntil(what, `(sel) => document.querySelector(sel) !== null`, selector, limit...)
}

// waitGone waits until no element matches selector.
func (b *browser) waitGone(what, selector string, limit ...time.Duration) {
	b.t.Helper()
	b.waitUntil(what, `(sel) => document.querySelector(sel) === null`, selector, limit...)
}

func (b *browser) waitUntil(what, predicate, selector string, limit ...time.Duration) {
	b.t.Helper()
	wait := uiWait
	if len(limit) > 0 {
		wait = limit[0]
	}
	ctx, cancel := context.WithTimeout(b.ctx, wait+5*time.Second)
	defer cancel()
	_, err := chromedp.Run(ctx, chromedp.PollFunction[bool](predicate, chromedp.WithPollingArgs(selector),
		chromedp.WithPollingMutation(), chromedp.WithPollingTimeout(wait)))
	if err != nil {
		b.fail(what+" ("+selector+")", err)
	}
}

// fail ends the test, with a screenshot and the page's panels' text to
// tell what it showed instead.
func (b *browser) fail(what string, err error) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	main, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.querySelector('main')?.innerText ?? ''`))
	b.screenshot("failed-"+strings.ReplaceAll(b.t.Name(), "/", "-"), laptop)
	b.t.Fatalf("the page did not show %s: %v\nwhat it showed:\n%s", what, err, main)
}

// screenshot saves the whole page at a viewport's width as a PNG among
// the test artefacts, and puts the tab back at a laptop's.
func (b *browser) screenshot(name string, v viewport) {
	b.t.Helper()
	dir := artifactsDir(b.t)
	ctx, cancel := context.WithTimeout(b.ctx, uiWait)
	defer cancel()
	var opts []chromedp.EmulateViewportOption
	if v.mobile {
		opts = append(opts, chromedp.EmulateMobile)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(v.width, v.height, opts...)); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	// The layout at the new width is done by the next frame.
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`new Promise((ok) => requestAnimationFrame(() => requestAnimationFrame(() => ok(true))))`,
		chromedp.EvalAwaitPromise)); err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err == nil {
		path := filepath.Join(dir, name+"-"+v.name+".png")
		if err = os.WriteFile(path, png, 0o644); err == nil {
			b.t.Logf("screenshot: %s", path)
		}
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
	}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(laptop.width, laptop.height)); err != nil {
		b.t.Errorf("back to a laptop's viewport: %v", err)
	}
}

// artifactsDir is where the tests leave what a person looks at after a
// run: $BSC_ARTIFACTS/ui, else artifacts/ui in the repository (ignored
// by git).
func artifactsDir(t *testing.T) string {
	t.Helper()
	root := os.Getenv("BSC_ARTIFACTS")
	if root == "" {
		var err error
		if root, err = filepath.Abs(filepath.Join("..", "..", "artifacts")); err != nil {
			t.Fatal(err)
		}
	}
	dir := filepath.Join(root, "ui")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}
