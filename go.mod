module github.com/ima-hook/ima-hook

go 1.26.8

require (
	github.com/BurntSushi/toml v1.6.0
	github.com/coreos/go-systemd/v22 v22.7.0
	github.com/emmansun/gmsm v0.15.5
	github.com/opencontainers/runtime-spec v1.3.0
	github.com/pelletier/go-toml/v2 v2.4.3
	github.com/spf13/pflag v1.1.0
	github.com/yuin/goldmark v1.8.7
	go.podman.io/common v0.68.1
	golang.org/x/sys v0.50.0
)

require (
	github.com/fsnotify/fsnotify v1.10.1 // indirect
	github.com/sirupsen/logrus v1.9.4 // indirect
	go.podman.io/storage v1.63.0 // indirect
	golang.org/x/crypto v0.51.0 // indirect
)
