package packaging

import (
	"bufio"
	"bytes"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// testVersion is linked into the binaries built for the tests. It exercises
// the tag, pre-release, commits-since-tag and dirty parts of the mapping to a
// package version.
const (
	testVersion    = "v1.2.3-rc.1-4-gdeadbee-dirty"
	testPkgVersion = "1.2.3~rc.1+git4.gdeadbee.dirty"
	nfpmModule     = "github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2"
	maxExposure    = 2.0
)

// built describes the packages TestMain built; skipReason or buildErr is set
// when there are none.
var built struct {
	repo     string
	deb, rpm string
	// The probe-controller packages (controller_test.go).
	ctlDeb, ctlRPM string
	arch           string // Go architecture of the packages
	skipReason     string
	buildErr       error
	buildLog       string
}

func TestMain(m *testing.M) {
	code := func() int {
		start := time.Now()
		dir, err := os.MkdirTemp("", "probe-agent-packaging-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		defer os.RemoveAll(dir)
		buildPackages(dir)
		if built.buildErr == nil && built.skipReason == "" {
			fmt.Fprintf(os.Stderr, "packaging: built %s, %s, %s and %s in %s\n",
				filepath.Base(built.deb), filepath.Base(built.rpm), filepath.Base(built.ctlDeb), filepath.Base(built.ctlRPM),
				time.Since(start).Round(time.Millisecond))
		}
		return m.Run()
	}()
	os.Exit(code)
}

func buildPackages(dir string) {
	repo, err := filepath.Abs("..")
	if err != nil {
		built.buildErr = err
		return
	}
	built.repo = repo
	if runtime.GOOS != "linux" {
		built.skipReason = "packages are built and checked on Linux only"
		return
	}
	for _, tool := range []string{"go", "sh", "gzip"} {
		if _, err := exec.LookPath(tool); err != nil {
			built.skipReason = tool + " not found in PATH"
			return
		}
	}
	// nfpm is installed separately so that a module proxy that cannot be
	// reached skips the package tests instead of failing them.
	tools := filepath.Join(dir, "tools")
	install := exec.Command("go", "install", nfpmModule)
	install.Env = append(os.Environ(), "GOBIN="+tools, "GOFLAGS=")
	if out, err := install.CombinedOutput(); err != nil {
		built.skipReason = fmt.Sprintf("cannot install nfpm (%s): %v\n%s", nfpmModule, err, out)
		return
	}
	// Only the host architecture: the test runs the packaged binary, and
	// `make package` covers the cross build.
	built.arch = runtime.GOARCH
	out := filepath.Join(dir, "out")
	cmd := exec.Command("sh", filepath.Join(repo, "packaging", "build.sh"), out)
	cmd.Env = append(os.Environ(),
		"VERSION="+testVersion,
		"ARCHES="+built.arch,
		"NFPM="+filepath.Join(tools, "nfpm"),
		"SOURCE_DATE_EPOCH=1780000000",
	)
	log, err := cmd.CombinedOutput()
	built.buildLog = string(log)
	if err != nil {
		built.buildErr = fmt.Errorf("packaging/build.sh: %v", err)
		return
	}
	debs, _ := filepath.Glob(filepath.Join(out, "probe-agent_*.deb"))
	rpms, _ := filepath.Glob(filepath.Join(out, "probe-agent-[0-9]*.rpm"))
	ctlDebs, _ := filepath.Glob(filepath.Join(out, "probe-controller_*.deb"))
	ctlRPMs, _ := filepath.Glob(filepath.Join(out, "probe-controller-[0-9]*.rpm"))
	all, _ := filepath.Glob(filepath.Join(out, "*"))
	if len(debs) != 1 || len(rpms) != 1 || len(ctlDebs) != 1 || len(ctlRPMs) != 1 || len(all) != 4 {
		built.buildErr = fmt.Errorf("want one .deb and one .rpm each of probe-agent and probe-controller in %s, got %v", out, all)
		return
	}
	built.deb, built.rpm = debs[0], rpms[0]
	built.ctlDeb, built.ctlRPM = ctlDebs[0], ctlRPMs[0]
}

// needPackages skips or fails t when TestMain could not build the packages.
func needPackages(t *testing.T) {
	t.Helper()
	if built.skipReason != "" {
		t.Skip("skipping: " + built.skipReason)
	}
	if built.buildErr != nil {
		t.Fatalf("building packages failed: %v\n%s", built.buildErr, built.buildLog)
	}
}

func needTool(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipping: %s not found in PATH (CI installs it: apt-get install rpm lintian)", tool)
		}
	}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("skipping: needs root (chroot, chown, device node for /dev/null)")
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

func repoFile(t *testing.T, rel string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(built.repo, rel))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Paths every package must install. Directories are listed where the rpm
// owns them too.
var wantFiles = []string{
	"/etc/probe-agent",
	"/etc/probe-agent/agent.yaml",
	"/etc/probe-agent/probes.d",
	"/etc/probe-agent/probes.d/demo-interface-health.json",
	"/usr/bin/probe-agent",
	"/usr/bin/probectl",
	"/usr/lib/systemd/system/probe-agent.service",
	"/usr/share/bash-completion/completions/probe-agent",
	"/usr/share/bash-completion/completions/probectl",
	"/usr/share/doc/probe-agent",
	"/usr/share/doc/probe-agent/LICENSE",
	"/usr/share/doc/probe-agent/README",
	"/usr/share/doc/probe-agent/copyright",
	"/usr/share/doc/probe-agent/examples",
	"/usr/share/doc/probe-agent/examples/grafana-dashboard.json",
	"/usr/share/doc/probe-agent/examples/probe-agent-lowport.conf",
	"/usr/share/doc/probe-agent/examples/probe-agent-netns.conf",
	"/usr/share/fish/vendor_completions.d/probe-agent.fish",
	"/usr/share/fish/vendor_completions.d/probectl.fish",
	"/usr/share/man/man1/probe-agent.1.gz",
}

// Files only one format installs (zsh completions live in different
// directories on Debian and on RPM distributions).
var (
	wantDebFiles = []string{"/usr/share/zsh/vendor-completions/_probe-agent", "/usr/share/zsh/vendor-completions/_probectl"}
	wantRPMFiles = []string{"/usr/share/zsh/site-functions/_probe-agent", "/usr/share/zsh/site-functions/_probectl"}
)

// conffiles are the files upgrades must not overwrite.
const conffiles = "/etc/probe-agent/agent.yaml\n/etc/probe-agent/probes.d/demo-interface-health.json"

func TestPackageVersionMapping(t *testing.T) {
	needTool(t, "sh", "git")
	for raw, want := range map[string]string{
		"v1.2.3":            "1.2.3",
		"v1.2.3-rc1":        "1.2.3~rc1",
		"v1.2.3-4-gabc1234": "1.2.3+git4.gabc1234",
		"v1.2.3-dirty":      "1.2.3+dirty",
		"abc1234":           "0.0.0~gitabc1234",
		"abc1234-dirty":     "0.0.0~gitabc1234+dirty",
		"1234567":           "0.0.0~git1234567",
		"v2.0":              "2.0",
		"release_x":         "0.0.0~release.x",
		testVersion:         testPkgVersion,
	} {
		cmd := exec.Command("sh", filepath.Join("..", "packaging", "build.sh"), "--package-version")
		cmd.Env = append(os.Environ(), "VERSION="+raw)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("build.sh --package-version (VERSION=%s): %v\n%s", raw, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != want {
			t.Errorf("VERSION=%s: package version %q, want %q", raw, got, want)
		}
	}
}

func TestScriptsArePOSIX(t *testing.T) {
	scripts, _ := filepath.Glob("scripts/*.sh")
	scripts = append(scripts, "build.sh")
	if len(scripts) != 4 {
		t.Fatalf("scripts: %v", scripts)
	}
	shells := []string{"sh"}
	if _, err := exec.LookPath("dash"); err == nil {
		shells = append(shells, "dash")
	}
	for _, s := range scripts {
		for _, sh := range shells {
			run(t, sh, "-n", s)
		}
		if _, err := exec.LookPath("checkbashisms"); err == nil {
			run(t, "checkbashisms", s)
		}
		if _, err := exec.LookPath("shellcheck"); err == nil {
			run(t, "shellcheck", "-s", "sh", s)
		}
	}
}

func TestDebMetadata(t *testing.T) {
	needPackages(t)
	needTool(t, "dpkg-deb")
	info := run(t, "dpkg-deb", "--info", built.deb)
	for _, want := range []string{
		"Package: probe-agent\n",
		"Version: " + testPkgVersion + "-1\n",
		"Architecture: " + built.arch + "\n",
		"Section: net\n",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	for _, member := range []string{"postinst", "prerm", "postrm", "conffiles", "md5sums"} {
		if !regexp.MustCompile(`(?m)\s` + member + `\s`).MatchString(info) {
			t.Errorf("control archive lacks %s:\n%s", member, info)
		}
	}
	if got := strings.TrimSpace(run(t, "dpkg-deb", "--info", built.deb, "conffiles")); got != conffiles {
		t.Errorf("conffiles = %q, want %q", got, conffiles)
	}
	postinst := run(t, "dpkg-deb", "--info", built.deb, "postinst")
	if postinst != repoFile(t, "packaging/scripts/postinstall.sh") {
		t.Error("postinst differs from packaging/scripts/postinstall.sh")
	}
}

func TestDebContents(t *testing.T) {
	needPackages(t)
	needTool(t, "dpkg-deb")
	modes := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(run(t, "dpkg-deb", "--contents", built.deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/")
		if p != "" {
			modes[p] = f[0] + " " + f[1]
		}
	}
	for _, p := range append(append([]string(nil), wantFiles...), wantDebFiles...) {
		if _, ok := modes[p]; !ok {
			t.Errorf("deb lacks %s", p)
		}
	}
	for p, want := range map[string]string{
		"/usr/bin/probe-agent":                           "-rwxr-xr-x root/root",
		"/usr/bin/probectl":                              "-rwxr-xr-x root/root",
		"/etc/probe-agent/agent.yaml":                    "-rw-r----- root/root",
		"/etc/probe-agent/probes.d":                      "drwxr-xr-x root/root",
		"/usr/lib/systemd/system/probe-agent.service":    "-rw-r--r-- root/root",
		"/usr/share/doc/probe-agent/changelog.Debian.gz": "-rw-r--r-- root/root",
		"/usr/share/lintian/overrides/probe-agent":       "-rw-r--r-- root/root",
	} {
		if got := modes[p]; got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	// Nothing outside the expected trees.
	for p := range modes {
		ok := false
		for _, prefix := range []string{"/etc", "/usr/bin", "/usr/lib/systemd", "/usr/share/doc", "/usr/share/lintian", "/usr/lib", "/usr/share", "/usr"} {
			if p == prefix || strings.HasPrefix(p, prefix+"/") {
				ok = true
			}
		}
		if !ok {
			t.Errorf("unexpected path in deb: %s", p)
		}
	}
}

func TestRPMMetadata(t *testing.T) {
	needPackages(t)
	needTool(t, "rpm")
	files := strings.Fields(run(t, "rpm", "-qpl", "--nosignature", built.rpm))
	want := append(append([]string(nil), wantFiles...), wantRPMFiles...)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("rpm -qpl:\n got %q\nwant %q", files, want)
	}
	if got := strings.TrimSpace(run(t, "rpm", "-qpc", "--nosignature", built.rpm)); got != conffiles {
		t.Errorf("rpm -qpc = %q, want %q", got, conffiles)
	}
	// %config(noreplace): flags c (config) and n (noreplace).
	flags := run(t, "rpm", "-qp", "--nosignature", "--qf", `[%{FILEFLAGS:fflags} %{FILENAMES}\n]`, built.rpm)
	if !regexp.MustCompile(`(?m)^cn /etc/probe-agent/agent.yaml$`).MatchString(flags) {
		t.Errorf("agent.yaml is not %%config(noreplace):\n%s", flags)
	}
	if !regexp.MustCompile(`(?m)^l /usr/share/doc/probe-agent/LICENSE$`).MatchString(flags) {
		t.Errorf("LICENSE is not %%license:\n%s", flags)
	}
	scripts := run(t, "rpm", "-qp", "--nosignature", "--scripts", built.rpm)
	for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm --scripts lacks %s:\n%s", want, scripts)
		}
	}
	wantArch := map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[built.arch]
	nvra := run(t, "rpm", "-qp", "--nosignature", "--qf", `%{NAME} %{VERSION} %{RELEASE} %{ARCH}`, built.rpm)
	if want := "probe-agent " + testPkgVersion + " 1 " + wantArch; nvra != want {
		t.Errorf("rpm NVRA %q, want %q", nvra, want)
	}
}

// extractDeb unpacks the .deb into a new directory and returns it.
func extractDeb(t *testing.T) string {
	t.Helper()
	needTool(t, "dpkg-deb")
	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", built.deb, dir)
	return dir
}

func TestBinariesStaticWithVersion(t *testing.T) {
	needPackages(t)
	root := extractDeb(t)
	for _, name := range []string{"probe-agent", "probectl"} {
		p := filepath.Join(root, "usr", "bin", name)
		f, err := elf.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
				t.Errorf("%s is dynamically linked (%v)", name, prog.Type)
			}
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s is not stripped", name)
		}
		f.Close()
		out := run(t, p, "--version")
		if want := name + " version " + testVersion; strings.TrimSpace(out) != want {
			t.Errorf("%s --version = %q, want %q", name, out, want)
		}
	}
}

// unitWithDropIns returns the unit text with each drop-in appended, as
// systemd would merge them (later [Service] assignments win or accumulate).
func unitWithDropIns(t *testing.T, dropIns ...string) string {
	t.Helper()
	unit := repoFile(t, "systemd/probe-agent.service")
	if len(dropIns) == 0 {
		return unit
	}
	i := strings.Index(unit, "\n[Install]")
	if i < 0 {
		t.Fatal("unit has no [Install] section")
	}
	s := unit[:i+1]
	for _, d := range dropIns {
		s += repoFile(t, "systemd/"+d)
	}
	return s
}

func exposure(t *testing.T, unitText string) float64 {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "probe-agent.service")
	if err := os.WriteFile(p, []byte(unitText), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, "systemd-analyze", "security", "--offline=true", "--no-pager", p)
	m := regexp.MustCompile(`Overall exposure level for probe-agent\.service: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestUnitSecurityExposure(t *testing.T) {
	needTool(t, "systemd-analyze")
	for _, tc := range []struct {
		name    string
		dropIns []string
	}{
		{"unit", nil},
		{"with netns drop-in", []string{"probe-agent-netns.conf"}},
		{"with lowport drop-in", []string{"probe-agent-lowport.conf"}},
		{"with both drop-ins", []string{"probe-agent-netns.conf", "probe-agent-lowport.conf"}},
	} {
		v := exposure(t, unitWithDropIns(t, tc.dropIns...))
		t.Logf("%s: exposure %.1f", tc.name, v)
		if v > maxExposure {
			t.Errorf("%s: exposure %.1f > %.1f", tc.name, v, maxExposure)
		}
	}
}

func TestUnitDirectives(t *testing.T) {
	unit := repoFile(t, "systemd/probe-agent.service")
	have := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			have[k] = append(have[k], v)
		}
	}
	for k, want := range map[string]string{
		"Type": "notify", "WatchdogSec": "30s", "Restart": "on-failure",
		"User": "probe-agent", "Group": "probe-agent",
		"StateDirectory": "probe-agent", "ConfigurationDirectory": "probe-agent",
		"ExecStart":               "/usr/bin/probe-agent run --config /etc/probe-agent/agent.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6 AF_NETLINK",
		"RestrictRealtime":        "yes",
		"RestrictNamespaces":      "yes",
		"RestrictSUIDSGID":        "yes",
		"LockPersonality":         "yes",
		"MemoryDenyWriteExecute":  "yes",
		"SystemCallArchitectures": "native",
		"UMask":                   "0077",
		"WantedBy":                "multi-user.target",
	} {
		if !slices.Contains(have[k], want) {
			t.Errorf("unit: %s=%s missing (have %q)", k, want, have[k])
		}
	}
	if !slices.Contains(have["SystemCallFilter"], "@system-service") {
		t.Errorf("unit: SystemCallFilter=@system-service missing")
	}
}

func TestUnitVerify(t *testing.T) {
	needPackages(t)
	needTool(t, "systemd-analyze")
	root := extractDeb(t)
	// systemd-analyze verify checks that ExecStart exists: point it at the
	// packaged binary. The drop-ins sit in probe-agent.service.d beside it,
	// as they would once copied, and are verified with the unit.
	dir := t.TempDir()
	unit := strings.Replace(repoFile(t, "systemd/probe-agent.service"),
		"ExecStart=/usr/bin/probe-agent ", "ExecStart="+filepath.Join(root, "usr/bin/probe-agent")+" ", 1)
	if err := os.WriteFile(filepath.Join(dir, "probe-agent.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	dropDir := filepath.Join(dir, "probe-agent.service.d")
	if err := os.Mkdir(dropDir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, d := range []string{"probe-agent-netns.conf", "probe-agent-lowport.conf"} {
		if err := os.WriteFile(filepath.Join(dropDir, d), []byte(repoFile(t, "systemd/"+d)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "probe-agent.service"))
	// Trailing ":" keeps the built-in search path after ours.
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":", "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "probe-agent") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

func TestLintian(t *testing.T) {
	needPackages(t)
	needTool(t, "lintian")
	cmd := exec.Command("lintian", "--fail-on", "error", built.deb)
	out, err := cmd.CombinedOutput()
	t.Logf("lintian:\n%s", out)
	if err != nil {
		t.Fatalf("lintian reported errors: %v", err)
	}
	if regexp.MustCompile(`(?m)^E: `).Match(out) {
		t.Error("lintian reported errors")
	}
}

// miniRoot builds a tiny root file system holding just what the maintainer
// scripts use (a shell, getent, the shadow tools, coreutils), copied from
// the host with their libraries. It has no systemd and no systemctl, like a
// container or a chroot during an image build.
func miniRoot(t *testing.T) string {
	t.Helper()
	needRoot(t)
	needTool(t, "chroot", "ldd")
	root := t.TempDir()
	for _, d := range []string{"usr/bin", "usr/sbin", "etc", "dev", "tmp", "run", "var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers"} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, l := range []string{"bin", "sbin"} {
		if err := os.Symlink("usr/"+l, filepath.Join(root, l)); err != nil {
			t.Fatal(err)
		}
	}
	copyFile := func(src, dst string) {
		b, err := os.ReadFile(src) // follows symlinks
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	libRe := regexp.MustCompile(`(/\S+)`)
	for _, tool := range []string{"sh", "getent", "groupadd", "useradd", "userdel", "groupdel", "mkdir", "chown", "chmod", "rm", "false"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Skipf("skipping: %s not found on the host to build the test root", tool)
		}
		sub := "usr/bin"
		if strings.HasSuffix(filepath.Dir(p), "sbin") {
			sub = "usr/sbin"
		}
		copyFile(p, filepath.Join(root, sub, tool))
		out, _ := exec.Command("ldd", p).Output() // fails for static binaries
		for _, m := range libRe.FindAllString(string(out), -1) {
			copyFile(m, filepath.Join(root, m))
		}
	}
	files := map[string]string{
		"etc/passwd":             "root:x:0:0:root:/root:/bin/sh\n",
		"etc/group":              "root:x:0:\n",
		"etc/shadow":             "root:*:20000:0:99999:7:::\n",
		"etc/gshadow":            "root:*::\n",
		"var/lib/dpkg/status":    "",
		"var/lib/dpkg/available": "",
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(root, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if b, err := os.ReadFile("/etc/login.defs"); err == nil {
		os.WriteFile(filepath.Join(root, "etc/login.defs"), b, 0o644)
	}
	run(t, "mknod", "-m", "666", filepath.Join(root, "dev/null"), "c", "1", "3")
	return root
}

func passwdHas(t *testing.T, root, file, name string) bool {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, "etc", file))
	if err != nil {
		t.Fatal(err)
	}
	return regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `:`).Match(b)
}

func checkInstalled(t *testing.T, root string) {
	t.Helper()
	if !passwdHas(t, root, "passwd", "probe-agent") || !passwdHas(t, root, "group", "probe-agent") {
		t.Error("post-install did not create the probe-agent user and group")
	}
	st, err := os.Stat(filepath.Join(root, "var/lib/probe-agent"))
	if err != nil {
		t.Fatalf("state dir: %v", err)
	}
	if st.Mode().Perm() != 0o750 || !st.IsDir() {
		t.Errorf("state dir mode %v, want drwxr-x---", st.Mode())
	}
	out := run(t, "chroot", root, "/usr/bin/getent", "passwd", "probe-agent")
	if !strings.Contains(out, ":/var/lib/probe-agent:") {
		t.Errorf("probe-agent user: %s", out)
	}
	checkConfigMode(t, root)
}

func TestDebInstallInRoot(t *testing.T) {
	needPackages(t)
	needTool(t, "dpkg")
	root := miniRoot(t)
	dpkg := func(args ...string) string {
		return run(t, "dpkg", append([]string{"--root=" + root, "--force-not-root"}, args...)...)
	}
	dpkg("--install", built.deb)

	out := run(t, filepath.Join(root, "usr/bin/probe-agent"), "--version")
	if want := "probe-agent version " + testVersion; strings.TrimSpace(out) != want {
		t.Errorf("installed probe-agent --version = %q, want %q", out, want)
	}
	checkInstalled(t, root)
	status := dpkg("--status", "probe-agent")
	if !regexp.MustCompile(`(?m)^ /etc/probe-agent/agent.yaml [0-9a-f]{32}$`).MatchString(status) {
		t.Errorf("agent.yaml is not a conffile:\n%s", status)
	}

	// The post-install script again, as on a reconfigure and on an
	// upgrade, with no systemd in the root: it must succeed each time.
	for _, args := range [][]string{{"configure"}, {"configure", "0.0.1-1"}, {"abort-upgrade", "0.0.1-1"}} {
		cmd := exec.Command("chroot", append([]string{root, "/var/lib/dpkg/info/probe-agent.postinst"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("postinst %v: %v\n%s", args, err, out)
		}
	}

	// Reinstalling (prerm upgrade, postrm upgrade, postinst configure OLD)
	// keeps a locally modified conffile.
	conf := filepath.Join(root, "etc/probe-agent/agent.yaml")
	local := []byte("system_id: local-edit\n")
	if err := os.WriteFile(conf, local, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg("--force-confold", "--install", built.deb)
	if b, _ := os.ReadFile(conf); !bytes.Equal(b, local) {
		t.Errorf("upgrade replaced the modified agent.yaml:\n%s", b)
	}
	checkInstalled(t, root)

	// Remove keeps configuration, state and user; purge deletes them.
	dpkg("--remove", "probe-agent")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/probe-agent")); !os.IsNotExist(err) {
		t.Errorf("binary left after remove: %v", err)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("remove deleted agent.yaml: %v", err)
	}
	checkInstalled(t, root)
	dpkg("--purge", "probe-agent")
	for _, p := range []string{"etc/probe-agent", "var/lib/probe-agent", "usr/lib/systemd/system/probe-agent.service"} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after purge (%v)", p, err)
		}
	}
	if passwdHas(t, root, "passwd", "probe-agent") || passwdHas(t, root, "group", "probe-agent") {
		t.Error("purge left the probe-agent user or group")
	}
}

func TestRPMInstallInRoot(t *testing.T) {
	needPackages(t)
	needTool(t, "rpm")
	root := miniRoot(t)
	rpm := func(args ...string) string {
		return run(t, "rpm", append([]string{"--root", root, "--nosignature"}, args...)...)
	}
	rpm("--initdb")
	// --nodeps: the mini root has no rpm database of its own packages.
	rpm("-i", "--nodeps", built.rpm)
	checkInstalled(t, root)
	out := run(t, "chroot", root, "/usr/bin/probe-agent", "--version")
	if want := "probe-agent version " + testVersion; strings.TrimSpace(out) != want {
		t.Errorf("installed probe-agent --version = %q, want %q", out, want)
	}

	// Upgrade path of the scriptlets ($1 = 2 in %post, 1 in %preun and
	// %postun) and %config(noreplace) on a modified agent.yaml.
	conf := filepath.Join(root, "etc/probe-agent/agent.yaml")
	local := []byte("system_id: local-edit\n")
	if err := os.WriteFile(conf, local, 0o644); err != nil {
		t.Fatal(err)
	}
	rpm("-U", "--replacepkgs", "--nodeps", built.rpm)
	if b, _ := os.ReadFile(conf); !bytes.Equal(b, local) {
		t.Errorf("upgrade replaced the modified agent.yaml:\n%s", b)
	}
	checkInstalled(t, root)

	// Erase ($1 = 0) is a remove, not a purge: state and user stay.
	rpm("-e", "probe-agent")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/probe-agent")); !os.IsNotExist(err) {
		t.Errorf("binary left after erase: %v", err)
	}
	checkInstalled(t, root)
}
