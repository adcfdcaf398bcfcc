package kube

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"
)

// Kinds of failure the command gives exit codes to; errors.Is matches an *Error's Kind.
var (
	// ErrNoConfig: no kubeconfig, or one that names no usable cluster or context (the user's to fix).
	ErrNoConfig = errors.New("no usable kubeconfig")
	// ErrUnreachable: the API server cannot be connected to, or does not answer in time.
	ErrUnreachable = errors.New("API server unreachable")
	// ErrDenied: the API server refused the credentials or the action (401, 403).
	ErrDenied = errors.New("not allowed")
	// ErrNoNamespace: the namespace to deploy into does not exist.
	ErrNoNamespace = errors.New("no such namespace")
	// ErrConflict: another field manager owns a field nixify sets (kubectl edit, another tool).
	ErrConflict = errors.New("field owned by another manager")
)

// Error is a cluster failure told in one line.
type Error struct {
	Kind error
	msg  string
	err  error
}

func (e *Error) Error() string        { return e.msg }
func (e *Error) Is(target error) bool { return e.Kind != nil && target == e.Kind }
func (e *Error) Unwrap() error        { return e.err }

// Target says which cluster and namespace to use: kubeconfig as kubectl finds it (--kubeconfig,
// else KUBECONFIG, else ~/.kube/config; clientcmd's loading rules), its context, its namespace.
type Target struct {
	Kubeconfig     string // --kubeconfig; empty: the usual places
	Context        string // --context; empty: the current one
	Namespace      string // --namespace; empty: the context's, else "default"
	RequestTimeout time.Duration
}

// Client is a connection to one cluster, in one namespace. It holds REST clients of the two API
// groups deploy writes (core/v1, apps/v1), not client-go's whole clientset: that one links every
// API group of Kubernetes and made the nixify binary 30 MB larger (BENCHMARKS.md).
type Client struct {
	Core, Apps rest.Interface
	Config     *rest.Config
	Namespace  string
	Server     string // the API server's URL, for messages
	Context    string
}

func init() {
	// client-go logs some failures through klog on stderr (a port-forward's lost stream); nixify
	// says what failed in its own words, once.
	klog.SetOutput(io.Discard)
	klog.LogToStderr(false)
}

// Connect reads the kubeconfig and makes a client; it asks the cluster nothing.
func Connect(t Target, warn func(string)) (*Client, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	rules.ExplicitPath = t.Kubeconfig
	over := &clientcmd.ConfigOverrides{CurrentContext: t.Context}
	cc := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, over)
	raw, err := cc.RawConfig()
	if err != nil {
		return nil, &Error{Kind: ErrNoConfig, msg: "read kubeconfig: " + firstLine(err.Error()), err: err}
	}
	ctxName := raw.CurrentContext
	if t.Context != "" {
		ctxName = t.Context
	}
	if len(raw.Contexts) == 0 {
		return nil, &Error{Kind: ErrNoConfig, msg: fmt.Sprintf("no kubeconfig: %s %s", where(rules, t.Kubeconfig), noContexts(rules, t.Kubeconfig))}
	}
	if _, ok := raw.Contexts[ctxName]; !ok {
		if ctxName == "" {
			return nil, &Error{Kind: ErrNoConfig, msg: fmt.Sprintf("%s has no current context", where(rules, t.Kubeconfig))}
		}
		return nil, &Error{Kind: ErrNoConfig, msg: fmt.Sprintf("no context %q in %s", clip(ctxName), where(rules, t.Kubeconfig))}
	}
	cfg, err := cc.ClientConfig()
	if err != nil {
		return nil, &Error{Kind: ErrNoConfig, msg: "kubeconfig: " + firstLine(err.Error()), err: err}
	}
	ns := t.Namespace
	if ns == "" {
		if ns, _, err = cc.Namespace(); err != nil || ns == "" {
			ns = "default"
		}
	}
	cfg.Timeout = t.RequestTimeout
	cfg.UserAgent = "nixify"
	if warn != nil {
		cfg.WarningHandler = warnFunc(warn)
	}
	core, err := restFor(cfg, corev1.SchemeGroupVersion, "/api")
	if err != nil {
		return nil, &Error{Kind: ErrNoConfig, msg: "kubeconfig: " + firstLine(err.Error()), err: err}
	}
	apps, err := restFor(cfg, appsv1.SchemeGroupVersion, "/apis")
	if err != nil {
		return nil, &Error{Kind: ErrNoConfig, msg: "kubeconfig: " + firstLine(err.Error()), err: err}
	}
	return &Client{Core: core, Apps: apps, Config: cfg, Namespace: ns, Server: cfg.Host, Context: ctxName}, nil
}

// scheme knows the types deploy reads and writes, and the API's own (Status, options).
var scheme = func() *runtime.Scheme {
	s := runtime.NewScheme()
	corev1.AddToScheme(s)
	appsv1.AddToScheme(s)
	metav1.AddToGroupVersion(s, schema.GroupVersion{Version: "v1"})
	return s
}()

func restFor(cfg *rest.Config, gv schema.GroupVersion, apiPath string) (*rest.RESTClient, error) {
	c := rest.CopyConfig(cfg)
	c.GroupVersion, c.APIPath = &gv, apiPath
	c.NegotiatedSerializer = serializer.NewCodecFactory(scheme).WithoutConversion()
	if c.UserAgent == "" {
		c.UserAgent = rest.DefaultKubernetesUserAgent()
	}
	return rest.RESTClientFor(c)
}

// noContexts says why the files looked at gave no context: none exists, or they name none.
func noContexts(rules *clientcmd.ClientConfigLoadingRules, explicit string) string {
	files := rules.Precedence
	if explicit != "" {
		files = []string{explicit}
	}
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			return "names no context"
		}
	}
	if len(files) > 1 {
		return "(none of these files exists)"
	}
	return "does not exist"
}

// where names the kubeconfig files looked at.
func where(rules *clientcmd.ClientConfigLoadingRules, explicit string) string {
	if explicit != "" {
		return explicit
	}
	if len(rules.Precedence) > 0 {
		return strings.Join(rules.Precedence, ":")
	}
	return "the kubeconfig"
}

type warnFunc func(string)

func (w warnFunc) HandleWarningHeader(code int, _ string, text string) {
	if code == 299 && text != "" {
		w(text)
	}
}

// Explain turns a client-go error from doing what into one line with its kind: what failed, on
// which server, and why, without Go's "Get \"https://...\": " chains.
func (c *Client) Explain(what string, err error) error {
	if err == nil {
		return nil
	}
	var told *Error
	if errors.As(err, &told) || errors.Is(err, context.Canceled) {
		return err
	}
	e := &Error{err: err}
	var se apierrors.APIStatus
	var ne net.Error
	var oe *net.OpError
	var ue *url.Error
	switch {
	case apierrors.IsUnauthorized(err):
		e.Kind, e.msg = ErrDenied, fmt.Sprintf("%s: %s refused the credentials of context %s", what, c.Server, c.Context)
	case apierrors.IsForbidden(err):
		e.Kind, e.msg = ErrDenied, fmt.Sprintf("%s: %s", what, statusMessage(err))
	case apierrors.IsConflict(err) && strings.Contains(err.Error(), "conflict"):
		e.Kind, e.msg = ErrConflict, fmt.Sprintf("%s: %s", what, statusMessage(err))
	case errors.As(err, &se) && se.Status().Code != 0:
		e.msg = fmt.Sprintf("%s: %s", what, statusMessage(err))
		if apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsServiceUnavailable(err) {
			e.Kind = ErrUnreachable
		}
	case errors.As(err, &oe) && oe.Op == "dial":
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: cannot connect to %s: %v", what, c.Server, unwrapSyscall(oe.Err))
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s did not answer in time", what, c.Server)
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s closed the connection without an answer", what, c.Server)
	case errors.As(err, &ue):
		e.Kind, e.msg = ErrUnreachable, fmt.Sprintf("%s: %s: %s", what, c.Server, firstLine(ue.Err.Error()))
	default:
		e.msg = fmt.Sprintf("%s: %s", what, firstLine(err.Error()))
	}
	return e
}

// IsNotFound reports whether err says the object asked for does not exist.
func IsNotFound(err error) bool { return apierrors.IsNotFound(err) }

func statusMessage(err error) string {
	var se apierrors.APIStatus
	if errors.As(err, &se) && se.Status().Message != "" {
		return firstLine(se.Status().Message)
	}
	return firstLine(err.Error())
}

func unwrapSyscall(err error) error {
	var se *syscall.Errno
	if errors.As(err, &se) {
		return *se
	}
	var sce interface{ Unwrap() error }
	if errors.As(err, &sce) {
		if inner := sce.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
