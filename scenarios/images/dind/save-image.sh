#!/bin/sh
# save-image ROOTFS NAME:TAG OUT.tar: writes ROOTFS as a one-layer image in
# the `docker save` format that `docker load` reads (manifest.json, the
# config named by its digest, the layer under its diff id).
set -eu
rootfs=$1 tag=$2 out=$3
work=$(mktemp -d)
tar --numeric-owner -C "$rootfs" -cf "$work/layer.tar" .
diff=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
mkdir "$work/$diff"
mv "$work/layer.tar" "$work/$diff/layer.tar"
arch=$(dpkg --print-architecture)
printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created_by":"parity save-image"}]}' \
	"$arch" "$diff" >"$work/config.json"
config=$(sha256sum "$work/config.json" | cut -d' ' -f1)
mv "$work/config.json" "$work/$config.json"
printf '[{"Config":"%s.json","RepoTags":["%s"],"Layers":["%s/layer.tar"]}]' "$config" "$tag" "$diff" >"$work/manifest.json"
mkdir -p "$(dirname "$out")"
tar -C "$work" -cf "$out" manifest.json "$config.json" "$diff"
rm -rf "$work"
