#!/usr/bin/env bash
# Install the desktop bundle for the current user: `graphmill` on PATH, the designer in the
# application menu, and *.graphmill.json files opening in it on a double-click.
#
#   packaging/linux/install.sh [BUNDLE_DIR]        (default: dist/graphmill)
#   packaging/linux/install.sh --uninstall
#
# The bundle stays where it is (BUNDLE_DIR); this links ~/.local/bin/graphmill to it and writes
# the .desktop file, the icons and the MIME type under $XDG_DATA_HOME (default ~/.local/share),
# refreshes the MIME and desktop databases there, and makes the designer the default for the
# type (`xdg-mime default`, in ~/.config/mimeapps.list). Nothing else is written.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
data="${XDG_DATA_HOME:-$HOME/.local/share}"
bin="${GRAPHMILL_BIN_DIR:-$HOME/.local/bin}"
mime_type="application/x-graphmill+json"

files=(
	"$data/applications/graphmill.desktop"
	"$data/mime/packages/graphmill.xml"
	"$data/icons/hicolor/scalable/apps/graphmill.svg"
	"$data/icons/hicolor/256x256/apps/graphmill.png"
	"$bin/graphmill"
)

refresh() {
	# each tool is optional: a minimal system may lack one, and the files still work after a
	# later refresh (a desktop session runs these on login)
	if command -v update-mime-database >/dev/null; then update-mime-database "$data/mime"; fi
	if command -v update-desktop-database >/dev/null; then update-desktop-database -q "$data/applications"; fi
	if command -v gtk-update-icon-cache >/dev/null; then
		gtk-update-icon-cache -q -t -f "$data/icons/hicolor" 2>/dev/null || true
	fi
}

if [ "${1:-}" = "--uninstall" ]; then
	rm -f "${files[@]}"
	refresh
	echo "removed Graphmill's desktop integration from $data and $bin"
	exit 0
fi

bundle="$(cd "${1:-$here/../../dist/graphmill}" && pwd)"
exe="$bundle/graphmill"
if [ ! -x "$exe" ]; then
	echo "error: no bundle at $bundle (build it with \`make bundle\`)" >&2
	exit 2
fi

case "$exe" in
*[\"\`\$\\%]* | *$'\n'*)
	echo "error: move the bundle to a path without \" \` \$ \\ % or newlines: $bundle" >&2
	exit 2
	;;
esac
sed_escape() { printf '%s' "$1" | sed -e 's/[|&]/\\&/g'; }

icons="$bundle/_internal/engine/resources/icons"
[ -d "$icons" ] || icons="$here/../../resources/icons"
mkdir -p "$data/applications" "$data/mime/packages" "$data/icons/hicolor/scalable/apps" \
	"$data/icons/hicolor/256x256/apps" "$bin"
install -m 644 "$here/graphmill-mime.xml" "$data/mime/packages/graphmill.xml"
install -m 644 "$icons/graphmill.svg" "$data/icons/hicolor/scalable/apps/graphmill.svg"
install -m 644 "$icons/graphmill.png" "$data/icons/hicolor/256x256/apps/graphmill.png"
# Exec and TryExec name the bundle's executable by its absolute path, quoted in Exec (it may
# hold spaces). Characters that would need the Desktop Entry spec's escapes are refused.
sed -e "s|^Exec=graphmill |Exec=\"$(sed_escape "$exe")\" |" -e "s|^TryExec=graphmill\$|TryExec=$(sed_escape "$exe")|" \
	"$here/graphmill.desktop" >"$data/applications/graphmill.desktop"
chmod 644 "$data/applications/graphmill.desktop"
ln -sfn "$exe" "$bin/graphmill"
refresh
if command -v xdg-mime >/dev/null; then
	XDG_DATA_HOME="$data" xdg-mime default graphmill.desktop "$mime_type" || true
fi
echo "installed: $bin/graphmill -> $exe"
echo "           $data/applications/graphmill.desktop ($mime_type opens in the designer)"
