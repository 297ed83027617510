package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

const manifests = "../../deploy/k8s/"

// decodeManifest decodes a manifest strictly (an unknown or misspelt field fails) into the
// Kubernetes API type of its kind.
func decodeManifest[T any](t *testing.T, file, apiVersion, kind string) *T {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifests, file))
	if err != nil {
		t.Fatal(err)
	}
	var meta struct{ APIVersion, Kind string }
	if err := yaml.Unmarshal(b, &meta); err != nil || meta.APIVersion != apiVersion || meta.Kind != kind {
		t.Fatalf("%s: %s %s (%v), want %s %s", file, meta.APIVersion, meta.Kind, err, apiVersion, kind)
	}
	var v T
	if err := yaml.UnmarshalStrict(b, &v); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return &v
}

// The manifests decode into the Kubernetes API types, and what makes them work holds: the
// upscale Job is Indexed with as many completions as the plan Job makes segments, and each pod's
// index reaches hitsr-video's --segment; every pod mounts the shared claim and the ConfigMap
// where hitsr-video looks for its config; each container's command line, with that config,
// is what the CLI takes (plan → the plan file, a worker → its segment, join → the outputs).
func TestK8sManifests(t *testing.T) {
	pvc := decodeManifest[corev1.PersistentVolumeClaim](t, "pvc.yaml", "v1", "PersistentVolumeClaim")
	if !slices.Contains(pvc.Spec.AccessModes, corev1.ReadWriteMany) {
		t.Errorf("pvc.yaml: access modes %v: pods on many nodes share it (ReadWriteMany)", pvc.Spec.AccessModes)
	}
	cm := decodeManifest[corev1.ConfigMap](t, "config.yaml", "v1", "ConfigMap")
	cfg := filepath.Join(t.TempDir(), "config.yaml")
	os.WriteFile(cfg, []byte(cm.Data["config.yaml"]), 0o644)
	jobs := map[string]*batchv1.Job{}
	for _, f := range []string{"plan-job.yaml", "upscale-job.yaml", "join-job.yaml"} {
		jobs[f] = decodeManifest[batchv1.Job](t, f, "batch/v1", "Job")
	}
	const index = "5"
	settingsOf := map[string]*settings{}
	for f, job := range jobs {
		spec := job.Spec.Template.Spec
		if spec.RestartPolicy != corev1.RestartPolicyNever || len(spec.Containers) != 1 {
			t.Fatalf("%s: restartPolicy %q, %d containers; want Never (a failed pod is retried as a new one) and one", f, spec.RestartPolicy, len(spec.Containers))
		}
		c := spec.Containers[0]
		mounts := map[string]string{}
		for _, m := range c.VolumeMounts {
			mounts[m.Name] = m.MountPath
		}
		for _, v := range spec.Volumes {
			switch {
			case v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == pvc.Name && mounts[v.Name] == "/data":
				delete(mounts, v.Name)
			case v.ConfigMap != nil && v.ConfigMap.Name == cm.Name && filepath.Join(mounts[v.Name], "config.yaml") == "/etc/hitsr/config.yaml":
				delete(mounts, v.Name)
			}
		}
		if len(mounts) != 0 || len(spec.Volumes) != 2 {
			t.Errorf("%s: mounts %v not backed by the claim %q at /data and the ConfigMap %q at /etc/hitsr", f, mounts, pvc.Name, cm.Name)
		}
		for _, r := range policyRules(job) {
			if r.OnExitCodes != nil && r.OnExitCodes.ContainerName != nil && *r.OnExitCodes.ContainerName != c.Name {
				t.Errorf("%s: the pod failure policy names container %q, not %q", f, *r.OnExitCodes.ContainerName, c.Name)
			}
		}
		// The command line as the kubelet expands it: $(VAR) from the container's env.
		var args []string
		for _, a := range c.Args {
			for _, e := range c.Env {
				if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.annotations['batch.kubernetes.io/job-completion-index']" {
					a = strings.ReplaceAll(a, "$("+e.Name+")", index)
				}
			}
			args = append(args, a)
		}
		cmd := cmdUpscale
		if c, ok := subcommands[args[0]]; ok {
			cmd, args = c.cmd, args[1:]
		}
		s, pos, err := loadSettings(cmd, append(args, "--config", cfg))
		if err != nil {
			t.Fatalf("%s: %v: %v", f, c.Args, err)
		}
		if cmd != cmdJoin && (len(pos) != 1 || !strings.HasPrefix(pos[0], "/data/")) {
			t.Errorf("%s: input %v, want one on the shared volume", f, pos)
		}
		if !strings.HasPrefix(s.plan, "/data/") {
			t.Errorf("%s: plan %q, want it on the shared volume", f, s.plan)
		}
		settingsOf[f] = s
	}
	work := jobs["upscale-job.yaml"]
	ws := work.Spec
	if ws.CompletionMode == nil || *ws.CompletionMode != batchv1.IndexedCompletion {
		t.Fatalf("upscale-job.yaml: completionMode %q, want Indexed", deref(ws.CompletionMode))
	}
	if n := int(deref(ws.Completions)); n != settingsOf["plan-job.yaml"].segments {
		t.Errorf("upscale-job.yaml: completions %d, the plan Job makes %d segments", n, settingsOf["plan-job.yaml"].segments)
	}
	if p := deref(ws.Parallelism); p < 1 || p > deref(ws.Completions) || ws.BackoffLimitPerIndex == nil {
		t.Errorf("upscale-job.yaml: parallelism %d of %d completions, backoffLimitPerIndex %v; want 1..completions and a limit per index", p, deref(ws.Completions), ws.BackoffLimitPerIndex)
	}
	if w := settingsOf["upscale-job.yaml"]; w.segment != index || !w.overwrite {
		t.Errorf("upscale-job.yaml: the pod with index %s runs --segment %q (-y %v); want its index, and -y to replace a failed try's segment", index, w.segment, w.overwrite)
	}
	if r := work.Spec.Template.Spec.Containers[0].Resources.Requests; r.Cpu().IsZero() || r.Memory().IsZero() {
		t.Errorf("upscale-job.yaml: no CPU or memory request: %v", r)
	}
	var outs []string
	for _, o := range settingsOf["join-job.yaml"].outs {
		outs = append(outs, o.path)
	}
	if len(outs) == 0 || settingsOf["plan-job.yaml"].plan != settingsOf["join-job.yaml"].plan {
		t.Errorf("join-job.yaml: outputs %v, plan %q (the plan Job writes %q)", outs, settingsOf["join-job.yaml"].plan, settingsOf["plan-job.yaml"].plan)
	}
	for _, o := range outs {
		if !strings.HasPrefix(o, "/data/") {
			t.Errorf("output %s is not on the shared volume", o)
		}
	}
}

// deref is *p, or the zero value.
func deref[T any](p *T) (v T) {
	if p != nil {
		v = *p
	}
	return v
}

func policyRules(j *batchv1.Job) []batchv1.PodFailurePolicyRule {
	if j.Spec.PodFailurePolicy == nil {
		return nil
	}
	return j.Spec.PodFailurePolicy.Rules
}
