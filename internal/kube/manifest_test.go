package kube

import (
	"bytes"
	"errors"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/nixify/nixify/internal/config"
)

const digestRef = "127.0.0.1:5000/o/nixify@sha256:0123456789012345678901234567890123456789012345678901234567890123"

func spec() Spec {
	return Spec{Name: "nixify-health-check", Namespace: "apps", Image: digestRef, StorageSize: resource.MustParse("10Gi"), Startup: 10 * time.Minute}
}

func find[T any](objs []Object, kind, name string) T {
	for _, o := range objs {
		if o.Kind == kind && o.Name == name {
			return o.Obj.(T)
		}
	}
	var zero T
	return zero
}

func TestObjects(t *testing.T) {
	cpu, mem := resource.MustParse("500m"), resource.MustParse("1Gi")
	for _, tc := range []struct {
		name  string
		edit  func(*Spec)
		check func(t *testing.T, objs []Object)
	}{
		{"defaults", func(*Spec) {}, func(t *testing.T, objs []Object) {
			var kinds []string
			for _, o := range objs {
				kinds = append(kinds, o.Kind+"/"+o.Name)
			}
			// The Secret first and the StatefulSet last: no pod starts before what it refers to.
			if got := strings.Join(kinds, " "); got != "Secret/nixify-health-check Service/nixify-health-check Service/nixify-health-check-health StatefulSet/nixify-health-check" {
				t.Errorf("objects %s", got)
			}
			ss := find[*appsv1.StatefulSet](objs, "StatefulSet", "nixify-health-check")
			if *ss.Spec.Replicas != 1 || ss.Spec.ServiceName != "nixify-health-check" || ss.Namespace != "apps" {
				t.Errorf("statefulset %+v", ss.Spec)
			}
			c := ss.Spec.Template.Spec.Containers[0]
			if c.Image != digestRef || c.StartupProbe.HTTPGet.Path != "/livez" || c.ReadinessProbe.HTTPGet.Path != "/readyz" || c.LivenessProbe.HTTPGet.Path != "/livez" {
				t.Errorf("container %+v", c)
			}
			// 10 minutes of startup budget at one probe every 5 s.
			if c.StartupProbe.FailureThreshold != 120 {
				t.Errorf("startup probe threshold %d", c.StartupProbe.FailureThreshold)
			}
			sc := c.SecurityContext
			if *sc.AllowPrivilegeEscalation || !*sc.ReadOnlyRootFilesystem || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 7 {
				t.Errorf("security context %+v", sc)
			}
			if *ss.Spec.Template.Spec.EnableServiceLinks {
				t.Error("service links would inject REDIS_PORT=tcp://... where a Service named redis exists")
			}
			mounts := map[string]string{}
			for _, m := range c.VolumeMounts {
				mounts[m.MountPath] = m.Name
			}
			if mounts["/data"] != "data" || mounts["/run/postgresql"] != "run" || mounts["/tmp"] != "tmp" {
				t.Errorf("mounts %v", mounts)
			}
			claim := ss.Spec.VolumeClaimTemplates[0]
			if q := claim.Spec.Resources.Requests[corev1.ResourceStorage]; q.String() != "10Gi" || claim.Spec.StorageClassName != nil || claim.Spec.AccessModes[0] != corev1.ReadWriteOnce {
				t.Errorf("claim %+v", claim.Spec)
			}
			if ss.Spec.Template.Spec.Affinity != nil || len(c.Resources.Requests) != 0 {
				t.Errorf("unasked affinity or resources: %+v %+v", ss.Spec.Template.Spec.Affinity, c.Resources)
			}
			env := map[string]corev1.EnvVar{}
			for _, e := range c.Env {
				env[e.Name] = e
			}
			if env["APP_PORT"].Value != "80" || env["POSTGRES_PASSWORD"].ValueFrom.SecretKeyRef.Name != "nixify-health-check" || env["GARAGE_SECRET_KEY"].ValueFrom == nil {
				t.Errorf("env %+v", c.Env)
			}
			headless := find[*corev1.Service](objs, "Service", "nixify-health-check")
			if headless.Spec.ClusterIP != "None" {
				t.Errorf("headless service %+v", headless.Spec)
			}
		}},
		{"publish, storage class, resources, archs", func(s *Spec) {
			s.Publish = []config.Publish{{Service: "postgres", HostPort: 15432}, {Service: "s3"}}
			s.StorageClass, s.CPU, s.Memory, s.Archs = "fast-ssd", &cpu, &mem, []string{"arm64", "amd64"}
			s.Env = []string{"POSTGRES_DB=app", "GARAGE_S3_PORT=3910"}
		}, func(t *testing.T, objs []Object) {
			pg := find[*corev1.Service](objs, "Service", "nixify-health-check-postgres")
			s3 := find[*corev1.Service](objs, "Service", "nixify-health-check-s3")
			if pg == nil || pg.Spec.Ports[0].Port != 15432 || pg.Spec.Ports[0].TargetPort.StrVal != "postgres" || s3 == nil || s3.Spec.Ports[0].Port != 3910 {
				t.Fatalf("published services %+v %+v", pg, s3)
			}
			ss := find[*appsv1.StatefulSet](objs, "StatefulSet", "nixify-health-check")
			c := ss.Spec.Template.Spec.Containers[0]
			if q := c.Resources.Limits[corev1.ResourceMemory]; q.String() != "1Gi" || c.Resources.Limits.Cpu().Sign() != 0 {
				t.Errorf("resources %+v", c.Resources)
			}
			if *ss.Spec.VolumeClaimTemplates[0].Spec.StorageClassName != "fast-ssd" {
				t.Error("storage class not set")
			}
			terms := ss.Spec.Template.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms
			if v := terms[0].MatchExpressions[0].Values; strings.Join(v, ",") != "amd64,arm64" {
				t.Errorf("affinity %v", v)
			}
			for _, p := range c.Ports {
				if p.Name == "s3" && p.ContainerPort != 3910 {
					t.Errorf("s3 container port %d", p.ContainerPort)
				}
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := spec()
			tc.edit(&s)
			objs, err := Objects(s, map[string]string{})
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, objs)
		})
	}
}

func TestHostileSpecs(t *testing.T) {
	zero := resource.MustParse("0")
	for _, tc := range []struct {
		edit func(*Spec)
		want string
	}{
		{func(s *Spec) { s.Name = "Nixify" }, "invalid name"},
		{func(s *Spec) { s.Name = "a-name-much-longer-than-forty-characters-for-sure" }, "invalid name"},
		{func(s *Spec) { s.Name = "x\n--- kind: Secret" }, "invalid name"},
		{func(s *Spec) { s.Namespace = "../kube-system" }, "invalid --namespace"},
		{func(s *Spec) { s.Image = "ghcr.io/o/n:latest" }, "not a digest reference"},
		{func(s *Spec) { s.StorageSize = zero }, "invalid --storage-size"},
		{func(s *Spec) { s.StorageClass = "Fast SSD" }, "invalid --storage-class"},
		{func(s *Spec) { s.CPU = &zero }, "invalid --cpu"},
		{func(s *Spec) { s.Startup = time.Second }, "invalid --startup-timeout"},
		{func(s *Spec) { s.Env = []string{"POSTGRES_PASSWORD=hunter2hunter2"} }, "POSTGRES_PASSWORD in the environment"},
		{func(s *Spec) { s.Env = []string{"APP_PORT=8080"} }, "APP_PORT"},
		{func(s *Spec) { s.Env = []string{"PG_PORT=99999"} }, "PG_PORT"},
		{func(s *Spec) { s.Env = []string{"NIXIFY_DATA_DIR=/etc"} }, "NIXIFY_DATA_DIR"},
	} {
		s := spec()
		tc.edit(&s)
		_, err := Objects(s, nil)
		var se *SpecError
		if !errors.As(err, &se) || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%+v: %v", s, err)
		}
	}
}

func TestYAMLWithoutSecretValues(t *testing.T) {
	objs, err := Objects(spec(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := WriteYAML(&b, []string{"one\ntwo"}, objs); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.HasPrefix(out, "# one\n# two\n---\napiVersion: v1\nkind: Service\n") || strings.Count(out, "\n---\n") != 3 ||
		strings.Contains(out, "kind: Secret") || strings.Contains(out, "status:") || strings.Contains(out, "creationTimestamp") {
		t.Errorf("yaml:\n%s", out)
	}
	if !regexp.MustCompile(`image: 127.0.0.1:5000/o/nixify@sha256:[0-9a-f]{64}\n`).MatchString(out) {
		t.Errorf("no digest image in:\n%s", out)
	}
}

func TestSecretValuesKeepWhatExists(t *testing.T) {
	v, gen := SecretValues(map[string][]byte{"POSTGRES_PASSWORD": []byte("kept-password-1")})
	if v["POSTGRES_PASSWORD"] != "kept-password-1" || len(gen) != 4 {
		t.Errorf("values kept %v, generated %v", v["POSTGRES_PASSWORD"], gen)
	}
	if !regexp.MustCompile(`^GK[0-9a-f]{24}$`).MatchString(v["GARAGE_ACCESS_KEY"]) || !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(v["GARAGE_SECRET_KEY"]) || len(v["REDIS_PASSWORD"]) != 26 {
		t.Errorf("generated formats: %d %d %d", len(v["GARAGE_ACCESS_KEY"]), len(v["GARAGE_SECRET_KEY"]), len(v["REDIS_PASSWORD"]))
	}
	v2, _ := SecretValues(map[string][]byte{})
	if v2["REDIS_PASSWORD"] == v["REDIS_PASSWORD"] {
		t.Error("two generations gave one password")
	}
}
