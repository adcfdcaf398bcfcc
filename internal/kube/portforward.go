package kube

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"k8s.io/client-go/tools/portforward"
	"k8s.io/client-go/transport/spdy"
)

// ForwardHealth forwards a local port on 127.0.0.1 to the pod's health server through the API
// server (as kubectl port-forward does) and returns its URL; the forward ends with ctx. It needs
// the right to create pods/portforward.
func (c *Client) ForwardHealth(ctx context.Context, pod string) (string, error) {
	rt, upgrader, err := spdy.RoundTripperFor(c.Config)
	if err != nil {
		return "", err
	}
	u := c.Core.Post().Resource("pods").Namespace(c.Namespace).Name(pod).SubResource("portforward").URL()
	dialer := spdy.NewDialer(upgrader, &http.Client{Transport: rt}, http.MethodPost, u)
	ready := make(chan struct{})
	pf, err := portforward.NewOnAddressesWithContext(ctx, dialer, []string{"127.0.0.1"}, []string{fmt.Sprintf("0:%d", HealthPort)}, ready, io.Discard, io.Discard)
	if err != nil {
		return "", err
	}
	failed := make(chan error, 1)
	go func() { failed <- pf.ForwardPorts() }()
	select {
	case <-ready:
	case err := <-failed:
		return "", c.Explain("port-forward to "+pod, err)
	case <-time.After(c.Config.Timeout + 5*time.Second):
		pf.Close()
		return "", c.Explain("port-forward to "+pod, context.DeadlineExceeded)
	case <-ctx.Done():
		return "", ctx.Err()
	}
	ports, err := pf.GetPorts()
	if err != nil || len(ports) == 0 {
		pf.Close()
		return "", fmt.Errorf("port-forward to %s: no local port", pod)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ports[0].Local), nil
}
