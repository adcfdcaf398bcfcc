// Package kube puts the services image on Kubernetes: the manifests `nixify deploy` writes (a pure
// function of a Spec, manifest.go), the connection to a cluster through kubeconfig (client.go),
// server-side apply after a server dry run of everything (apply.go), the Secret generated once
// (secret.go), the wait for the rollout (rollout.go) and a port-forward to the pod's health server
// (portforward.go). It is the one package besides the deploy command that imports k8s.io modules.
package kube

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"

	"github.com/nixify/nixify/internal/config"
	"github.com/nixify/nixify/internal/initenv"
)

// Spec is what the manifests are made from: the deploy command's flags and configuration.
type Spec struct {
	Name      string // the StatefulSet, its Services and Secret are named after it
	Namespace string // empty: left out (a GitOps tool decides)
	Image     string // REPO@sha256:...: never a tag
	// Archs are the image's architectures (GOARCH names): the pod is kept to such nodes. Empty:
	// unknown (an image given by digest), no constraint.
	Archs        []string
	Env          []string // KEY=VALUE, the configuration's env overridden by --env
	Publish      []config.Publish
	StorageSize  resource.Quantity
	StorageClass string
	CPU, Memory  *resource.Quantity // nil: no request
	// Startup is how long the pod may take to answer /livez for the first time: a first boot
	// (initdb) and Redis loading a large dataset both happen before it does.
	Startup time.Duration
}

// HealthPort is nixify-init's health server inside the pod (APP_PORT), as `run` sets it.
const HealthPort = 80

// SecretKeys are the variables the Secret holds, the names nixify-init reads. Garage's key pair
// must be given together (initenv refuses one without the other).
var SecretKeys = []string{"POSTGRES_PASSWORD", "REDIS_PASSWORD", "GARAGE_ACCESS_KEY", "GARAGE_SECRET_KEY", "GARAGE_ADMIN_TOKEN"}

// FieldManager is the name nixify's server-side applies go under.
const FieldManager = "nixify"

// Labels every object carries; the selector is the first two.
func Labels(name string) map[string]string {
	return map[string]string{
		"app.kubernetes.io/name":       "nixify",
		"app.kubernetes.io/instance":   name,
		"app.kubernetes.io/managed-by": "nixify",
	}
}

func selector(name string) map[string]string {
	return map[string]string{"app.kubernetes.io/name": "nixify", "app.kubernetes.io/instance": name}
}

// maxName leaves room for what Kubernetes appends: "-s3" and "-health" to Services, "-0" to the
// pod, and the controller-revision-hash label value NAME-HASH (63 characters at most).
const maxName = 40

// SpecError is a Spec the manifests cannot be made from: a bad flag or environment value.
type SpecError struct{ Msg string }

func (e *SpecError) Error() string { return e.Msg }

func specErrorf(format string, a ...any) error { return &SpecError{Msg: fmt.Sprintf(format, a...)} }

// Check refuses a Spec that would make invalid objects, in one line naming the value and what is
// accepted, before any cluster is asked. It returns what the image's environment configures.
func (s Spec) Check() (initenv.Config, error) {
	if errs := validation.IsDNS1035Label(s.Name); len(errs) > 0 || len(s.Name) > maxName {
		return initenv.Config{}, specErrorf("invalid name %q: accepted: up to %d lower-case letters, digits and '-', starting with a letter (--name, or the container key)", clip(s.Name), maxName)
	}
	if s.Namespace != "" {
		if errs := validation.IsDNS1123Label(s.Namespace); len(errs) > 0 {
			return initenv.Config{}, specErrorf("invalid --namespace %q: accepted: up to 63 lower-case letters, digits and '-'", clip(s.Namespace))
		}
	}
	if !strings.Contains(s.Image, "@sha256:") {
		return initenv.Config{}, specErrorf("image %q is not a digest reference (REPO@sha256:...)", clip(s.Image))
	}
	if s.StorageSize.Sign() <= 0 {
		return initenv.Config{}, specErrorf("invalid --storage-size %s: accepted: a positive quantity such as 10Gi", s.StorageSize.String())
	}
	if s.StorageClass != "" {
		if errs := validation.IsDNS1123Subdomain(s.StorageClass); len(errs) > 0 {
			return initenv.Config{}, specErrorf("invalid --storage-class %q: accepted: a storage class name (kubectl get storageclass)", clip(s.StorageClass))
		}
	}
	for flag, q := range map[string]*resource.Quantity{"--cpu": s.CPU, "--memory": s.Memory} {
		if q != nil && q.Sign() <= 0 {
			return initenv.Config{}, specErrorf("invalid %s %s: accepted: a positive quantity (--cpu 500m, --memory 1Gi)", flag, q.String())
		}
	}
	if s.Startup < 10*time.Second || s.Startup > 24*time.Hour {
		return initenv.Config{}, specErrorf("invalid --startup-timeout %s: accepted: from 10s to 24h", s.Startup)
	}
	env := map[string]string{}
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		if slices.Contains(SecretKeys, k) {
			return initenv.Config{}, specErrorf("%s in the environment: deploy keeps it in the Secret %s (generated on the first deploy, kept after): to choose it, create that Secret before the first deploy", k, s.Name)
		}
		if k == "APP_PORT" {
			return initenv.Config{}, specErrorf("APP_PORT in the environment: the health server listens on %d in the pod, where the probes ask it", HealthPort)
		}
		env[k] = v
	}
	env["APP_PORT"] = strconv.Itoa(HealthPort)
	cfg, err := initenv.FromEnv(func(k string) string { return env[k] })
	if err != nil {
		return cfg, specErrorf("the pod's environment: %v", err)
	}
	return cfg, nil
}

// Objects are the manifests of a deploy, in the order they are applied: the Secret (only when
// secret is not nil: its values), the Services, then the StatefulSet, so that no pod starts before
// what it refers to exists. It is a pure function of the Spec.
func Objects(s Spec, secret map[string]string) ([]Object, error) {
	cfg, err := s.Check()
	if err != nil {
		return nil, err
	}
	var out []Object
	if secret != nil {
		out = append(out, Object{Kind: "Secret", Name: s.Name, Obj: Secret(s, secret)})
	}
	for _, svc := range services(s, cfg) {
		out = append(out, Object{Kind: "Service", Name: svc.Name, Obj: svc})
	}
	out = append(out, Object{Kind: "StatefulSet", Name: s.Name, Obj: statefulSet(s, cfg)})
	return out, nil
}

// Object is one manifest: a typed k8s.io/api object.
type Object struct {
	Kind, Name string
	Obj        any // *corev1.Secret, *corev1.Service or *appsv1.StatefulSet
}

func meta(s Spec, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: s.Namespace, Labels: Labels(s.Name)}
}

// Secret holds the passwords and keys the init reads; values never leave the cluster or this
// process (never printed).
func Secret(s Spec, values map[string]string) *corev1.Secret {
	data := map[string][]byte{}
	for _, k := range SecretKeys {
		data[k] = []byte(values[k])
	}
	return &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: meta(s, s.Name),
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// publishedPort is a published service's port inside the pod, by the init's configuration.
func publishedPort(service string, cfg initenv.Config) int {
	switch service {
	case "postgres":
		return cfg.PGPort
	case "redis":
		return cfg.RedisPort
	}
	return cfg.S3Port
}

// services are the headless Service the StatefulSet's pod is named under, the health server's, and
// one per --publish item, on the port it names (else the service's own).
func services(s Spec, cfg initenv.Config) []*corev1.Service {
	svc := func(name string, headless bool, ports ...corev1.ServicePort) *corev1.Service {
		v := &corev1.Service{
			TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Service"},
			ObjectMeta: meta(s, name),
			Spec:       corev1.ServiceSpec{Selector: selector(s.Name), Ports: ports},
		}
		if headless {
			// Publishes the pod's address before it is ready, so NAME-0.NAME resolves during boot.
			v.Spec.ClusterIP, v.Spec.PublishNotReadyAddresses = corev1.ClusterIPNone, true
		}
		return v
	}
	health := corev1.ServicePort{Name: "health", Port: HealthPort, TargetPort: intstr.FromString("health"), Protocol: corev1.ProtocolTCP}
	out := []*corev1.Service{svc(s.Name, true, health), svc(s.Name+"-health", false, health)}
	for _, p := range s.Publish {
		port := p.HostPort
		if port == 0 {
			port = publishedPort(p.Service, cfg)
		}
		out = append(out, svc(s.Name+"-"+p.Service, false, corev1.ServicePort{Name: p.Service, Port: int32(port), TargetPort: intstr.FromString(p.Service), Protocol: corev1.ProtocolTCP}))
	}
	return out
}

// Capabilities are what nixify-init needs as root, and nothing else of the runtime's default set:
// it creates the services' directories and gives them to their users (CHOWN, and FOWNER to chmod
// what they own), writes their generated configuration into directories only they may enter
// (DAC_OVERRIDE), starts each service as its own user (SETUID, SETGID), signals them to stop
// (KILL), and listens on port 80 (NET_BIND_SERVICE). The services themselves run unprivileged.
var Capabilities = []corev1.Capability{"CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL", "NET_BIND_SERVICE"}

// probe periods: a startup probe every 5 s; readiness and liveness every 10 s.
const startupPeriod = 5

func statefulSet(s Spec, cfg initenv.Config) *appsv1.StatefulSet {
	env := []corev1.EnvVar{{Name: "APP_PORT", Value: strconv.Itoa(HealthPort)}}
	for _, kv := range s.Env {
		k, v, _ := strings.Cut(kv, "=")
		env = append(env, corev1.EnvVar{Name: k, Value: v})
	}
	for _, k := range SecretKeys {
		env = append(env, corev1.EnvVar{Name: k, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: s.Name}, Key: k}}})
	}
	ports := []corev1.ContainerPort{{Name: "health", ContainerPort: HealthPort, Protocol: corev1.ProtocolTCP}}
	for _, svc := range config.Publishable {
		ports = append(ports, corev1.ContainerPort{Name: svc, ContainerPort: int32(publishedPort(svc, cfg)), Protocol: corev1.ProtocolTCP})
	}
	get := func(path string) corev1.ProbeHandler {
		return corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: path, Port: intstr.FromString("health")}}
	}
	var res corev1.ResourceRequirements
	if s.CPU != nil {
		res.Requests = corev1.ResourceList{corev1.ResourceCPU: *s.CPU}
	}
	if s.Memory != nil {
		// Memory is requested and limited alike: a database pod whose use outgrows its request is
		// the first the kubelet evicts under pressure. CPU is not limited (throttling a database
		// only makes it slow).
		if res.Requests == nil {
			res.Requests = corev1.ResourceList{}
		}
		res.Requests[corev1.ResourceMemory] = *s.Memory
		res.Limits = corev1.ResourceList{corev1.ResourceMemory: *s.Memory}
	}
	root, no, yes := int64(0), false, true
	grace := int64(30) // the init's ordered shutdown takes under 10 s (PostgreSQL's checkpoint included)
	pod := corev1.PodSpec{
		// The pod does not talk to the API server, and a Service named "redis" elsewhere in the
		// namespace would otherwise inject REDIS_PORT=tcp://... , which the init reads as its port.
		AutomountServiceAccountToken:  &no,
		EnableServiceLinks:            &no,
		TerminationGracePeriodSeconds: &grace,
		SecurityContext:               &corev1.PodSecurityContext{SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault}},
		Containers: []corev1.Container{{
			Name: "nixify", Image: s.Image, ImagePullPolicy: corev1.PullIfNotPresent,
			Env: env, Ports: ports, Resources: res,
			StartupProbe: &corev1.Probe{ProbeHandler: get("/livez"), PeriodSeconds: startupPeriod, TimeoutSeconds: 2,
				FailureThreshold: int32((s.Startup + startupPeriod*time.Second - 1) / (startupPeriod * time.Second))},
			ReadinessProbe: &corev1.Probe{ProbeHandler: get("/readyz"), PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 3},
			LivenessProbe:  &corev1.Probe{ProbeHandler: get("/livez"), PeriodSeconds: 10, TimeoutSeconds: 2, FailureThreshold: 6},
			// nixify-init starts as root and gives each service its own user; the root filesystem
			// stays read-only: the init writes only under /data and its run directory.
			SecurityContext: &corev1.SecurityContext{
				RunAsUser: &root, RunAsNonRoot: &no, AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
				Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}, Add: Capabilities},
			},
			VolumeMounts: []corev1.VolumeMount{
				{Name: "data", MountPath: cfg.DataDir},
				{Name: "run", MountPath: cfg.RunDir},
				{Name: "tmp", MountPath: "/tmp"},
			},
		}},
		Volumes: []corev1.Volume{
			{Name: "run", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: corev1.StorageMediumMemory}}},
			{Name: "tmp", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
		},
	}
	if len(s.Archs) > 0 {
		pod.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
			NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
				Key: "kubernetes.io/arch", Operator: corev1.NodeSelectorOpIn, Values: slices.Sorted(slices.Values(s.Archs))}}}}}}}
	}
	claim := corev1.PersistentVolumeClaim{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolumeClaim"},
		ObjectMeta: metav1.ObjectMeta{Name: "data", Labels: Labels(s.Name)},
		Spec: corev1.PersistentVolumeClaimSpec{
			AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
			Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: s.StorageSize}},
		},
	}
	if s.StorageClass != "" {
		claim.Spec.StorageClassName = &s.StorageClass
	}
	one := int32(1)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: meta(s, s.Name),
		Spec: appsv1.StatefulSetSpec{
			// One replica: the pod holds a database on a ReadWriteOnce volume. A second replica
			// would be a second, empty PostgreSQL, Redis and Garage with data of their own, not a
			// replica of the first.
			Replicas:    &one,
			ServiceName: s.Name,
			Selector:    &metav1.LabelSelector{MatchLabels: selector(s.Name)},
			// Parallel: with one pod it changes no order, and a deploy that fixes a pod stuck in a
			// broken revision (an image that cannot be pulled, a crash loop) replaces it; under
			// OrderedReady the controller waits for that pod to be ready first, forever.
			PodManagementPolicy: appsv1.ParallelPodManagement,
			UpdateStrategy:      appsv1.StatefulSetUpdateStrategy{Type: appsv1.RollingUpdateStatefulSetStrategyType},
			// The data outlives the StatefulSet: deleting it (or scaling to 0) keeps the claim.
			PersistentVolumeClaimRetentionPolicy: &appsv1.StatefulSetPersistentVolumeClaimRetentionPolicy{
				WhenDeleted: appsv1.RetainPersistentVolumeClaimRetentionPolicyType, WhenScaled: appsv1.RetainPersistentVolumeClaimRetentionPolicyType},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: Labels(s.Name)},
				Spec:       pod,
			},
			VolumeClaimTemplates: []corev1.PersistentVolumeClaim{claim},
		},
	}
}

// clip shortens a hostile value for an error line.
func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}
