// Package config loads nixify's settings with viper: flags over NIXIFY_* environment variables over
// the config file (./nixify.yaml, then the user config dir) over defaults. It also remembers where
// each value came from, for `nixify config`, and validates every value before a command uses it.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"
	"gopkg.in/yaml.v3"

	"github.com/nixify/nixify/internal/arch"
	"github.com/nixify/nixify/internal/iostreams"
)

// Config is the effective configuration of one nixify invocation.
type Config struct {
	Flake         string      `json:"flake"`
	Attr          string      `json:"attr"`
	Image         string      `json:"image"`
	Container     string      `json:"container"`
	Port          int         `json:"port"`
	Bind          string      `json:"bind"`
	Volume        string      `json:"volume"`
	Repo          string      `json:"repo"`
	Architectures []arch.Arch `json:"architectures"`
	DockerHost    string      `json:"docker_host"`
	StateDir      string      `json:"state_dir"`
	Env           []string    `json:"env"`
	Publish       []Publish   `json:"publish"`
}

// Key describes one setting: its name in the file, its default and what it means.
type Key struct {
	Name    string
	Default any
	Help    string
}

// Keys lists every setting, in the order `nixify config` prints them.
var Keys = []Key{
	{"flake", ".", "flake reference that defines the image"},
	{"attr", "docker-image-static", "package attribute of the image in the flake"},
	{"image", "nixify-health-check", "repository under which run names the images it loads (IMAGE:ARCH-ID), for clean --images"},
	{"container", "nixify-health-check", "container name used by run, logs, stop, clean"},
	{"port", 8080, "host port that publishes the health server"},
	{"bind", "127.0.0.1", "host address the port is published on"},
	{"volume", "nixify-data", "named volume mounted on /data"},
	{"repo", "", "registry repository for push, e.g. ghcr.io/OWNER/nixify-health-check"},
	{"architectures", arch.Strings(arch.All), "architectures built and pushed with --arch all"},
	{"docker_host", "", "Docker engine endpoint; empty means DOCKER_HOST, then the current docker context"},
	{"state_dir", ".nixify", "where build records are kept (relative to the working directory)"},
	{"env", []string{}, "environment for the container, KEY=VALUE items (NIXIFY_ENV: one a line, or A=1,B=2; run --env adds and overrides)"},
	{"publish", []string{}, "services published on the host: postgres, redis, s3 or all, each optionally NAME=HOSTPORT"},
}

// Source says where a value came from.
type Source string

const (
	FromDefault Source = "default"
	FromFile    Source = "file"
	FromEnv     Source = "env"
	FromFlag    Source = "flag"
)

// Origin is a value's source and, for files and env, which file or variable.
type Origin struct {
	Source Source `json:"source"`
	Detail string `json:"detail,omitempty"`
}

// Error is a configuration value that cannot be used: it names the key, the value and what is
// accepted, in one line.
type Error struct {
	Key, Value, Where, Accepted string
	// Hidden replaces the quoted value when the value may be a secret: "item 2 (7 characters,
	// not shown)".
	Hidden string
}

func (e *Error) Error() string {
	where := ""
	if e.Where != "" {
		where = " (" + e.Where + ")"
	}
	value := fmt.Sprintf("%q", e.Value)
	if e.Hidden != "" {
		value = e.Hidden
	}
	return fmt.Sprintf("invalid %s %s%s: %s", e.Key, value, where, e.Accepted)
}

// Options tell Load where to look.
type Options struct {
	File    string                 // --config; empty means search ./nixify.yaml then the user config dir
	Flags   map[string]*pflag.Flag // flags bound to keys; only flags set on the command line count
	Getenv  func(string) string
	WorkDir string // for ./nixify.yaml; empty means the process's working directory
}

// Loaded is the result of Load: the configuration and the origin of each key.
type Loaded struct {
	Config  Config
	Origins map[string]Origin
	File    string // the config file read, if any
}

// Load merges the sources, validates the result and reports where each value came from.
func Load(o Options) (*Loaded, error) {
	if o.Getenv == nil {
		o.Getenv = os.Getenv
	}
	v := viper.New()
	for _, k := range Keys {
		v.SetDefault(k.Name, k.Default)
	}
	file, err := findFile(o)
	if err != nil {
		return nil, err
	}
	fileKeys := map[string]bool{}
	if file != "" {
		if fileKeys, err = readFile(v, file); err != nil {
			return nil, err
		}
	}
	origins := map[string]Origin{}
	for _, k := range Keys {
		origins[k.Name] = Origin{Source: FromDefault}
		if fileKeys[k.Name] {
			origins[k.Name] = Origin{Source: FromFile, Detail: file}
		}
		env := EnvName(k.Name)
		if val := o.Getenv(env); val != "" {
			v.Set(k.Name, val)
			origins[k.Name] = Origin{Source: FromEnv, Detail: env}
		}
		if f := o.Flags[k.Name]; f != nil && f.Changed {
			v.Set(k.Name, flagValue(f))
			origins[k.Name] = Origin{Source: FromFlag, Detail: "--" + f.Name}
		}
	}
	cfg, err := decode(v, origins)
	if err != nil {
		return nil, err
	}
	return &Loaded{Config: cfg, Origins: origins, File: file}, nil
}

// EnvName is the environment variable that sets key.
func EnvName(key string) string { return "NIXIFY_" + strings.ToUpper(key) }

func flagValue(f *pflag.Flag) any {
	if sv, ok := f.Value.(pflag.SliceValue); ok {
		return sv.GetSlice()
	}
	return f.Value.String()
}

func findFile(o Options) (string, error) {
	if o.File != "" {
		if _, err := os.Stat(o.File); err != nil {
			return "", &Error{Key: "config file", Value: o.File, Accepted: "the file does not exist or cannot be read; pass an existing YAML file to --config"}
		}
		return o.File, nil
	}
	dir := o.WorkDir
	if dir == "" {
		dir, _ = os.Getwd()
	}
	candidates := []string{filepath.Join(dir, "nixify.yaml")}
	if xdg := o.Getenv("XDG_CONFIG_HOME"); xdg != "" {
		candidates = append(candidates, filepath.Join(xdg, "nixify", "nixify.yaml"))
	} else if home := o.Getenv("HOME"); home != "" {
		candidates = append(candidates, filepath.Join(home, ".config", "nixify", "nixify.yaml"))
	}
	for _, c := range candidates {
		if _, err := os.Stat(c); err == nil {
			return c, nil
		}
	}
	return "", nil
}

// readFile loads the YAML file into v, refusing bad YAML and unknown keys with the line they are on.
func readFile(v *viper.Viper, file string) (map[string]bool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, &Error{Key: "config file", Value: file, Accepted: err.Error()}
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("config file %s is not valid YAML: %s", file, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	keys := map[string]bool{}
	if len(doc.Content) == 0 { // empty file
		return keys, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("config file %s: line %d: expected a mapping of keys to values, e.g. \"port: 8080\"", file, root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if !slices.ContainsFunc(Keys, func(key Key) bool { return key.Name == k.Value }) {
			return nil, fmt.Errorf("config file %s: line %d: unknown key %q; known keys: %s", file, k.Line, k.Value, strings.Join(KeyNames(), ", "))
		}
		keys[k.Value] = true
	}
	v.SetConfigType("yaml")
	if err := v.ReadConfig(strings.NewReader(string(data))); err != nil {
		return nil, fmt.Errorf("config file %s: %w", file, err)
	}
	return keys, nil
}

// KeyNames lists the known keys.
func KeyNames() []string {
	names := make([]string, len(Keys))
	for i, k := range Keys {
		names[i] = k.Name
	}
	return names
}

var envKeyRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

var nameRE = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9_.-]*$`)

func decode(v *viper.Viper, origins map[string]Origin) (Config, error) {
	where := func(key string) string {
		o := origins[key]
		if o.Detail != "" {
			return string(o.Source) + " " + o.Detail
		}
		return string(o.Source)
	}
	bad := func(key, value, accepted string) error {
		return &Error{Key: key, Value: value, Where: where(key), Accepted: accepted}
	}
	hidden := func(key, hidden, accepted string) error {
		return &Error{Key: key, Hidden: hidden, Where: where(key), Accepted: accepted}
	}
	c := Config{
		Flake:      strings.TrimSpace(v.GetString("flake")),
		Attr:       strings.TrimSpace(v.GetString("attr")),
		Image:      strings.TrimSpace(v.GetString("image")),
		Container:  strings.TrimSpace(v.GetString("container")),
		Bind:       strings.TrimSpace(v.GetString("bind")),
		Volume:     strings.TrimSpace(v.GetString("volume")),
		Repo:       strings.TrimSpace(v.GetString("repo")),
		DockerHost: strings.TrimSpace(v.GetString("docker_host")),
		StateDir:   strings.TrimSpace(v.GetString("state_dir")),
	}
	portText := strings.TrimSpace(v.GetString("port"))
	port, err := strconv.Atoi(portText)
	if err != nil || port < 1 || port > 65535 {
		return c, bad("port", portText, "a port number from 1 to 65535")
	}
	c.Port = port

	for _, kv := range [][2]string{{"flake", c.Flake}, {"attr", c.Attr}, {"state_dir", c.StateDir}} {
		if kv[1] == "" {
			return c, bad(kv[0], kv[1], "must not be empty")
		}
	}
	for _, kv := range [][2]string{{"container", c.Container}, {"volume", c.Volume}} {
		if !nameRE.MatchString(kv[1]) {
			return c, bad(kv[0], kv[1], "a name of letters, digits, '_', '.' or '-', starting with a letter or digit")
		}
	}
	if !validImageName(c.Image) {
		return c, bad("image", c.Image, "a lowercase image name such as nixify-health-check or ghcr.io/owner/name (no tag)")
	}
	if c.Repo != "" && !validImageName(c.Repo) {
		return c, bad("repo", c.Repo, "a registry repository such as ghcr.io/owner/name or 127.0.0.1:5000/name (no tag)")
	}
	if net.ParseIP(c.Bind) == nil {
		return c, bad("bind", c.Bind, "an IP address such as 127.0.0.1 or 0.0.0.0")
	}
	if c.DockerHost != "" {
		u, err := url.Parse(c.DockerHost)
		if err != nil || !slices.Contains([]string{"unix", "tcp", "ssh", "npipe"}, u.Scheme) {
			return c, bad("docker_host", c.DockerHost, "a URL like unix:///var/run/docker.sock, tcp://HOST:2376 or ssh://USER@HOST")
		}
	}
	if err := decodeLists(v, &c, bad, hidden); err != nil {
		return c, err
	}
	return c, nil
}

// decodeLists reads the list settings: architectures, publish and env.
func decodeLists(v *viper.Viper, c *Config, bad, hidden func(key, value, accepted string) error) error {
	c.Architectures = nil
	for _, a := range listSetting(v, "architectures") {
		norm, err := arch.Parse(a)
		if err != nil {
			return bad("architectures", a, "accepted: "+arch.Accepted)
		}
		if !slices.Contains(c.Architectures, norm) {
			c.Architectures = append(c.Architectures, norm)
		}
	}
	if len(c.Architectures) == 0 {
		return bad("architectures", "", "at least one of "+arch.Accepted)
	}
	var err error
	if c.Publish, err = ParsePublish(listSetting(v, "publish")); err != nil {
		var pe *PublishError
		errors.As(err, &pe)
		return bad("publish", pe.Item, pe.Accepted)
	}
	c.Env = nil
	items := v.GetStringSlice("env")
	if s, ok := v.Get("env").(string); ok {
		// NIXIFY_ENV, or a string where the file has a list: never split at the spaces a
		// value may hold (viper's string-to-list would).
		items = SplitEnv(s)
	}
	const accepted = "items of the form KEY=VALUE, KEY of letters, digits and _ not starting with a digit " +
		"(NIXIFY_ENV: one item a line, or items separated by commas, as in A=1,B=2)"
	for i, kv := range items {
		// The value may be a secret: an error names the item by its key, or by its place.
		k, _, ok := strings.Cut(kv, "=")
		switch {
		case !ok:
			return hidden("env", fmt.Sprintf("item %d (%s without '=', not shown)", i+1, iostreams.Count(len(kv), "character", "characters")), accepted)
		case !envKeyRE.MatchString(k):
			return bad("env", k, accepted)
		}
		c.Env = append(c.Env, kv)
	}
	return nil
}

// listSetting reads a list; from the environment (or a string in the file) it comes as one comma
// list ("x86_64, aarch64").
func listSetting(v *viper.Viper, key string) []string {
	s, ok := v.Get(key).(string)
	if !ok {
		return v.GetStringSlice(key)
	}
	var l []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			l = append(l, item)
		}
	}
	return l
}

// envItemStart is what begins an item after a comma in NIXIFY_ENV: a variable's name and '='.
var envItemStart = regexp.MustCompile(`^\s*[A-Za-z_][A-Za-z0-9_]*=`)

// SplitEnv reads a container environment written as one string (NIXIFY_ENV): one KEY=VALUE item
// a line, and on a line a comma followed by NAME= starts the next item, so that A=1,B=2 is two
// items while PASSWORD=a,b and DATABASE_HOSTS=h1,h2 keep their commas. Spaces belong to the
// value. A value holding ",NAME=" needs a line of its own, the file's list or run --env.
func SplitEnv(s string) []string {
	var items []string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSuffix(line, "\r")
		if strings.TrimSpace(line) == "" {
			continue
		}
		start := 0
		for i := 0; i < len(line); i++ {
			if line[i] == ',' && envItemStart.MatchString(line[i+1:]) {
				items = append(items, line[start:i])
				start = i + 1
			}
		}
		items = append(items, line[start:])
	}
	for i, item := range items {
		items[i] = strings.TrimLeft(item, " \t")
	}
	return items
}

// SecretKey reports whether an environment variable's name says it holds a secret: its value is
// never shown.
func SecretKey(key string) bool {
	k := strings.ToUpper(key)
	for _, w := range []string{"PASSWORD", "PASSWD", "SECRET", "TOKEN", "KEY", "AUTH", "CREDENTIAL"} {
		if strings.Contains(k, w) {
			return true
		}
	}
	return false
}

// RedactEnv is a KEY=VALUE item as a message may show it: the value hidden ("KEY=…") when the
// key looks secret (SecretKey) or is not a valid name, and an item without '=' reduced to its
// length: it may be a value whose key was forgotten.
func RedactEnv(kv string) string {
	k, _, ok := strings.Cut(kv, "=")
	switch {
	case !ok:
		return "(" + iostreams.Count(len(kv), "character", "characters") + ", not shown)"
	case !envKeyRE.MatchString(k) || SecretKey(k):
		return k + "=…"
	}
	return kv
}

var imageRE = regexp.MustCompile(`^([a-zA-Z0-9.-]+(:[0-9]+)?/)?[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*$`)

func validImageName(s string) bool { return imageRE.MatchString(s) }
