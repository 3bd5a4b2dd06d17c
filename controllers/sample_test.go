package controllers

import (
	"os"
	"path/filepath"

	"sigs.k8s.io/yaml"
)

func readSample() ([]byte, error) {
	return os.ReadFile(filepath.Join("..", "config", "samples", "boxoffice_v1alpha1_showtime.yaml"))
}

func yamlUnmarshal(data []byte, v any) error { return yaml.UnmarshalStrict(data, v) }
