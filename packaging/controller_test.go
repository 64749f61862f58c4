package packaging

import (
	"bufio"
	"bytes"
	"debug/elf"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/probe-agent/probe-agent/controller"
)

// The probe-controller package: the daemon alone (probectl stays in the
// probe-agent package, so both install side by side), its unit, its
// configuration file, man page and completions.
var wantControllerFiles = []string{
	"/etc/probe-controller",
	"/etc/probe-controller/controller.yaml",
	"/usr/bin/probe-controller",
	"/usr/lib/systemd/system/probe-controller.service",
	"/usr/share/bash-completion/completions/probe-controller",
	"/usr/share/doc/probe-controller",
	"/usr/share/doc/probe-controller/LICENSE",
	"/usr/share/doc/probe-controller/README",
	"/usr/share/doc/probe-controller/copyright",
	"/usr/share/fish/vendor_completions.d/probe-controller.fish",
	"/usr/share/man/man1/probe-controller.1.gz",
}

var (
	wantControllerDebFiles = []string{
		"/usr/share/zsh/vendor-completions/_probe-controller",
		"/usr/share/doc/probe-controller/changelog.Debian.gz",
		"/usr/share/lintian/overrides/probe-controller",
	}
	wantControllerRPMFiles = []string{"/usr/share/zsh/site-functions/_probe-controller"}
)

const controllerConffiles = "/etc/probe-controller/controller.yaml"

func TestControllerScriptsArePOSIX(t *testing.T) {
	scripts, _ := filepath.Glob("controller/scripts/*.sh")
	if len(scripts) != 3 {
		t.Fatalf("scripts: %v", scripts)
	}
	for _, s := range scripts {
		run(t, "sh", "-n", s)
		if _, err := exec.LookPath("dash"); err == nil {
			run(t, "dash", "-n", s)
		}
		if _, err := exec.LookPath("shellcheck"); err == nil {
			run(t, "shellcheck", "-s", "sh", s)
		}
	}
}

func TestControllerDebMetadata(t *testing.T) {
	needPackages(t)
	needTool(t, "dpkg-deb")
	info := run(t, "dpkg-deb", "--info", built.ctlDeb)
	for _, want := range []string{
		"Package: probe-controller\n",
		"Version: " + testPkgVersion + "-1\n",
		"Architecture: " + built.arch + "\n",
		"Section: net\n",
		"Suggests: probe-agent\n",
	} {
		if !strings.Contains(info, want) {
			t.Errorf("dpkg-deb --info lacks %q:\n%s", want, info)
		}
	}
	if got := strings.TrimSpace(run(t, "dpkg-deb", "--info", built.ctlDeb, "conffiles")); got != controllerConffiles {
		t.Errorf("conffiles = %q, want %q", got, controllerConffiles)
	}
	for member, src := range map[string]string{"postinst": "postinstall.sh", "prerm": "preremove.sh", "postrm": "postremove.sh"} {
		if run(t, "dpkg-deb", "--info", built.ctlDeb, member) != repoFile(t, "packaging/controller/scripts/"+src) {
			t.Errorf("%s differs from packaging/controller/scripts/%s", member, src)
		}
	}
}

// debListing maps each path in a .deb to its mode and owner.
func debListing(t *testing.T, deb string) map[string]string {
	t.Helper()
	modes := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(run(t, "dpkg-deb", "--contents", deb)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 6 {
			continue
		}
		if p := strings.TrimSuffix(strings.TrimPrefix(f[5], "."), "/"); p != "" {
			modes[p] = f[0] + " " + f[1]
		}
	}
	return modes
}

func TestControllerDebContents(t *testing.T) {
	needPackages(t)
	needTool(t, "dpkg-deb")
	modes := debListing(t, built.ctlDeb)
	want := append(append([]string(nil), wantControllerFiles...), wantControllerDebFiles...)
	for _, p := range want {
		if _, ok := modes[p]; !ok {
			t.Errorf("deb lacks %s", p)
		}
	}
	for p, want := range map[string]string{
		"/usr/bin/probe-controller":                        "-rwxr-xr-x root/root",
		"/etc/probe-controller/controller.yaml":            "-rw-r--r-- root/root",
		"/usr/lib/systemd/system/probe-controller.service": "-rw-r--r-- root/root",
	} {
		if got := modes[p]; got != want {
			t.Errorf("%s: %q, want %q", p, got, want)
		}
	}
	// Only the expected files (and their parent directories), and none the
	// probe-agent package installs: the two must install side by side.
	agent := debListing(t, built.deb)
	for p, mode := range modes {
		if strings.HasPrefix(mode, "d") {
			continue
		}
		if !slices.Contains(want, p) {
			t.Errorf("unexpected file in the controller's deb: %s", p)
		}
		if _, ok := agent[p]; ok {
			t.Errorf("%s is in both packages", p)
		}
	}
}

func TestControllerRPMMetadata(t *testing.T) {
	needPackages(t)
	needTool(t, "rpm")
	files := strings.Fields(run(t, "rpm", "-qpl", "--nosignature", built.ctlRPM))
	want := append(append([]string(nil), wantControllerFiles...), wantControllerRPMFiles...)
	slices.Sort(want)
	if !slices.Equal(files, want) {
		t.Errorf("rpm -qpl:\n got %q\nwant %q", files, want)
	}
	flags := run(t, "rpm", "-qp", "--nosignature", "--qf", `[%{FILEFLAGS:fflags} %{FILENAMES}\n]`, built.ctlRPM)
	if !regexp.MustCompile(`(?m)^cn /etc/probe-controller/controller.yaml$`).MatchString(flags) {
		t.Errorf("controller.yaml is not %%config(noreplace):\n%s", flags)
	}
	scripts := run(t, "rpm", "-qp", "--nosignature", "--scripts", built.ctlRPM)
	for _, want := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet"} {
		if !strings.Contains(scripts, want) {
			t.Errorf("rpm --scripts lacks %s:\n%s", want, scripts)
		}
	}
}

func extractControllerDeb(t *testing.T) string {
	t.Helper()
	needTool(t, "dpkg-deb")
	dir := t.TempDir()
	run(t, "dpkg-deb", "-x", built.ctlDeb, dir)
	return dir
}

// The shipped controller.yaml is the daemon's documented example (so the
// two cannot drift) and is safe: the API on loopback, no write credentials,
// the state where the unit lets the daemon write.
func TestControllerShippedConfig(t *testing.T) {
	needPackages(t)
	root := extractControllerDeb(t)
	bin := filepath.Join(root, "usr/bin/probe-controller")
	if out := strings.TrimSpace(run(t, bin, "--version")); out != "probe-controller version "+testVersion {
		t.Errorf("--version = %q", out)
	}
	checkStaticStripped(t, bin)
	shipped, err := os.ReadFile(filepath.Join(root, "etc/probe-controller/controller.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	example := run(t, bin, "config", "example")
	if !bytes.HasSuffix(shipped, []byte(example)) {
		t.Errorf("controller.yaml is not `probe-controller config example`:\n%s", shipped)
	}
	cfg, err := controller.ParseConfig(shipped, "controller.yaml")
	if err != nil {
		t.Fatalf("shipped controller.yaml: %v", err)
	}
	host, _, err := net.SplitHostPort(cfg.API.Listen)
	if err != nil {
		t.Fatalf("api.listen %q: %v", cfg.API.Listen, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		t.Errorf("api.listen %q is not loopback", cfg.API.Listen)
	}
	if cfg.API.TokenFile != "" || cfg.API.TLS.CA != "" {
		t.Errorf("shipped API accepts credentials for writes: token_file %q, tls.ca %q", cfg.API.TokenFile, cfg.API.TLS.CA)
	}
	if cfg.StateDir != "/var/lib/probe-controller" {
		t.Errorf("state_dir %q, want the unit's StateDirectory", cfg.StateDir)
	}
	if cfg.Agents.Defaults.Insecure {
		t.Error("shipped configuration dials agents without TLS")
	}
	man := run(t, "sh", "-c", "gzip -dc "+filepath.Join(root, "usr/share/man/man1/probe-controller.1.gz"))
	if !strings.HasPrefix(man, ".TH PROBE-CONTROLLER 1 ") || !strings.Contains(man, `"probe-controller `+strings.ReplaceAll(testVersion, "-", `\-`)+`"`) {
		t.Errorf("man page:\n%.300s", man)
	}
}

// checkStaticStripped fails t unless bin is a static, stripped ELF binary.
func checkStaticStripped(t *testing.T, bin string) {
	t.Helper()
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP || prog.Type == elf.PT_DYNAMIC {
			t.Errorf("%s is dynamically linked (%v)", bin, prog.Type)
		}
	}
	if f.Section(".symtab") != nil {
		t.Errorf("%s is not stripped", bin)
	}
}

func unitDirectives(unit string) map[string][]string {
	have := map[string][]string{}
	for _, line := range strings.Split(unit, "\n") {
		line = strings.TrimSpace(line)
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			have[k] = append(have[k], v)
		}
	}
	return have
}

func TestControllerUnitDirectives(t *testing.T) {
	unit := repoFile(t, "systemd/probe-controller.service")
	have := unitDirectives(unit)
	for k, want := range map[string]string{
		"Type": "notify", "NotifyAccess": "main", "Restart": "on-failure",
		"User": "probe-controller", "Group": "probe-controller",
		"StateDirectory": "probe-controller", "ConfigurationDirectory": "probe-controller",
		"ExecStart":               "/usr/bin/probe-controller run --config /etc/probe-controller/controller.yaml",
		"ExecReload":              "/bin/kill -HUP $MAINPID",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"NoNewPrivileges":         "yes",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"PrivateUsers":            "yes",
		"PrivateIPC":              "yes",
		"ProtectProc":             "invisible",
		"ProcSubset":              "pid",
		"RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
		"RestrictNamespaces":      "yes",
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
		t.Error("unit: SystemCallFilter=@system-service missing")
	}
	// Stricter than the agent's: no capability, no netlink, no drop-in, and
	// nothing writable but the state directory.
	for _, k := range []string{"CapabilityBoundingSet", "AmbientCapabilities"} {
		for _, v := range have[k] {
			if v != "" {
				t.Errorf("unit grants capabilities: %s=%s", k, v)
			}
		}
	}
	if strings.Contains(unit, "AF_NETLINK") || strings.Contains(unit, "CAP_") {
		t.Error("unit mentions AF_NETLINK or a capability")
	}
	for _, v := range have["ReadWritePaths"] {
		if v != "/var/lib/probe-controller" {
			t.Errorf("ReadWritePaths=%s", v)
		}
	}
	// WatchdogSec only if the daemon pings the watchdog, or systemd would
	// kill a healthy controller every WatchdogSec.
	pings := false
	for _, dir := range []string{"cmd/probe-controller", "controller"} {
		files, _ := filepath.Glob(filepath.Join(built.repo, dir, "*.go"))
		for _, f := range files {
			if b, _ := os.ReadFile(f); !strings.HasSuffix(f, "_test.go") && bytes.Contains(b, []byte("SdNotifyWatchdog")) {
				pings = true
			}
		}
	}
	if _, set := have["WatchdogSec"]; set != pings {
		t.Errorf("WatchdogSec set: %v, daemon pings the watchdog: %v", set, pings)
	}
}

func exposureOf(t *testing.T, name, unitText string) float64 {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(unitText), 0o644); err != nil {
		t.Fatal(err)
	}
	out := run(t, "systemd-analyze", "security", "--offline=true", "--no-pager", p)
	m := regexp.MustCompile(`Overall exposure level for ` + regexp.QuoteMeta(name) + `: ([0-9.]+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level in:\n%s", out)
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestControllerUnitSecurityExposure(t *testing.T) {
	needTool(t, "systemd-analyze")
	agent := exposureOf(t, "probe-agent.service", repoFile(t, "systemd/probe-agent.service"))
	ctl := exposureOf(t, "probe-controller.service", repoFile(t, "systemd/probe-controller.service"))
	t.Logf("exposure: probe-controller %.1f, probe-agent %.1f", ctl, agent)
	if ctl > agent || ctl > maxExposure {
		t.Errorf("probe-controller exposure %.1f, want <= the agent's %.1f and <= %.1f", ctl, agent, maxExposure)
	}
}

func TestControllerUnitVerify(t *testing.T) {
	needPackages(t)
	needTool(t, "systemd-analyze")
	root := extractControllerDeb(t)
	dir := t.TempDir()
	unit := strings.Replace(repoFile(t, "systemd/probe-controller.service"),
		"ExecStart=/usr/bin/probe-controller ", "ExecStart="+filepath.Join(root, "usr/bin/probe-controller")+" ", 1)
	if err := os.WriteFile(filepath.Join(dir, "probe-controller.service"), []byte(unit), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("systemd-analyze", "verify", filepath.Join(dir, "probe-controller.service"))
	cmd.Env = append(os.Environ(), "SYSTEMD_UNIT_PATH="+dir+":", "SYSTEMD_LOG_LEVEL=notice")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if strings.Contains(line, "probe-controller") {
			t.Errorf("systemd-analyze verify: %s", line)
		}
	}
}

func TestControllerLintian(t *testing.T) {
	needPackages(t)
	needTool(t, "lintian")
	out, err := exec.Command("lintian", "--fail-on", "error", built.ctlDeb).CombinedOutput()
	t.Logf("lintian:\n%s", out)
	if err != nil || regexp.MustCompile(`(?m)^E: `).Match(out) {
		t.Fatalf("lintian reported errors: %v", err)
	}
}

func checkControllerInstalled(t *testing.T, root string) {
	t.Helper()
	if !passwdHas(t, root, "passwd", "probe-controller") || !passwdHas(t, root, "group", "probe-controller") {
		t.Error("post-install did not create the probe-controller user and group")
	}
	st, err := os.Stat(filepath.Join(root, "var/lib/probe-controller"))
	if err != nil {
		t.Fatalf("state dir: %v", err)
	}
	if !st.IsDir() || st.Mode().Perm() != 0o750 {
		t.Errorf("state dir mode %v, want drwxr-x---", st.Mode())
	}
	if out := run(t, "chroot", root, "/usr/bin/getent", "passwd", "probe-controller"); !strings.Contains(out, ":/var/lib/probe-controller:") {
		t.Errorf("probe-controller user: %s", out)
	}
}

// The whole dpkg lifecycle in a root without systemd, beside the agent's
// package: install both, rerun the post-install, reinstall keeping a local
// conffile, remove keeping state and user, purge deleting them while the
// agent stays installed.
func TestControllerDebInstallInRoot(t *testing.T) {
	needPackages(t)
	needTool(t, "dpkg")
	root := miniRoot(t)
	dpkg := func(args ...string) string {
		return run(t, "dpkg", append([]string{"--root=" + root, "--force-not-root"}, args...)...)
	}
	dpkg("--install", built.deb, built.ctlDeb)
	out := run(t, "chroot", root, "/usr/bin/probe-controller", "--version")
	if want := "probe-controller version " + testVersion; strings.TrimSpace(out) != want {
		t.Errorf("installed probe-controller --version = %q, want %q", out, want)
	}
	checkControllerInstalled(t, root)
	checkInstalled(t, root)
	status := dpkg("--status", "probe-controller")
	if !regexp.MustCompile(`(?m)^ /etc/probe-controller/controller.yaml [0-9a-f]{32}$`).MatchString(status) {
		t.Errorf("controller.yaml is not a conffile:\n%s", status)
	}
	for _, args := range [][]string{{"configure"}, {"configure", "0.0.1-1"}, {"abort-upgrade", "0.0.1-1"}} {
		cmd := exec.Command("chroot", append([]string{root, "/var/lib/dpkg/info/probe-controller.postinst"}, args...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("postinst %v: %v\n%s", args, err, out)
		}
	}

	conf := filepath.Join(root, "etc/probe-controller/controller.yaml")
	local := []byte("blueprint_id: local-edit\n")
	if err := os.WriteFile(conf, local, 0o644); err != nil {
		t.Fatal(err)
	}
	dpkg("--force-confold", "--install", built.ctlDeb)
	if b, _ := os.ReadFile(conf); !bytes.Equal(b, local) {
		t.Errorf("upgrade replaced the modified controller.yaml:\n%s", b)
	}
	checkControllerInstalled(t, root)

	dpkg("--remove", "probe-controller")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/probe-controller")); !os.IsNotExist(err) {
		t.Errorf("binary left after remove: %v", err)
	}
	if _, err := os.Stat(conf); err != nil {
		t.Errorf("remove deleted controller.yaml: %v", err)
	}
	checkControllerInstalled(t, root)
	dpkg("--purge", "probe-controller")
	for _, p := range []string{"etc/probe-controller", "var/lib/probe-controller", "usr/lib/systemd/system/probe-controller.service"} {
		if _, err := os.Stat(filepath.Join(root, p)); !os.IsNotExist(err) {
			t.Errorf("%s left after purge (%v)", p, err)
		}
	}
	if passwdHas(t, root, "passwd", "probe-controller") || passwdHas(t, root, "group", "probe-controller") {
		t.Error("purge left the probe-controller user or group")
	}
	// The agent's package is untouched.
	checkInstalled(t, root)
	if _, err := os.Stat(filepath.Join(root, "usr/bin/probectl")); err != nil {
		t.Errorf("purging the controller removed probectl: %v", err)
	}
}

func TestControllerRPMInstallInRoot(t *testing.T) {
	needPackages(t)
	needTool(t, "rpm")
	root := miniRoot(t)
	rpm := func(args ...string) string {
		return run(t, "rpm", append([]string{"--root", root, "--nosignature"}, args...)...)
	}
	rpm("--initdb")
	rpm("-i", "--nodeps", built.ctlRPM)
	checkControllerInstalled(t, root)
	conf := filepath.Join(root, "etc/probe-controller/controller.yaml")
	local := []byte("blueprint_id: local-edit\n")
	if err := os.WriteFile(conf, local, 0o644); err != nil {
		t.Fatal(err)
	}
	rpm("-U", "--replacepkgs", "--nodeps", built.ctlRPM)
	if b, _ := os.ReadFile(conf); !bytes.Equal(b, local) {
		t.Errorf("upgrade replaced the modified controller.yaml:\n%s", b)
	}
	rpm("-e", "probe-controller")
	if _, err := os.Stat(filepath.Join(root, "usr/bin/probe-controller")); !os.IsNotExist(err) {
		t.Errorf("binary left after erase: %v", err)
	}
	checkControllerInstalled(t, root)
}
