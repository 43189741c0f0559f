#!/usr/bin/env python3
"""package_vsix.py EXT_DIR OUT.vsix — packs the VS Code extension of editors/vscode into
a .vsix (an OPC zip: [Content_Types].xml, extension.vsixmanifest, extension/...), as
`vsce package` would, without network or node modules: the extension has no
dependency. Deterministic: fixed timestamps, sorted entries. Run by the build (target
vsix) and checked by tests/cli/editors.sh."""
import json, os, sys, zipfile
from xml.sax.saxutils import escape

src, out = sys.argv[1], sys.argv[2]
pkg = json.load(open(os.path.join(src, "package.json"), encoding="utf-8"))
files = []
for root, dirs, names in os.walk(src):
    dirs[:] = sorted(d for d in dirs if d not in ("node_modules", ".vscode") and not d.startswith("."))
    for n in sorted(names):
        if n.endswith(".vsix") or n.startswith("."):
            continue
        full = os.path.join(root, n)
        files.append((os.path.relpath(full, src).replace(os.sep, "/"), full))
names = {rel for rel, _ in files}
for need in ("package.json", "extension.js", "README.md", "LICENSE.txt"):
    if need not in names:
        sys.exit("package_vsix: %s missing in %s" % (need, src))
ident = pkg["name"]
repo = pkg.get("repository", {})
repo_url = repo.get("url", "") if isinstance(repo, dict) else str(repo)
source = ('      <Property Id="Microsoft.VisualStudio.Services.Links.Source" Value="%s" />\n'
          % escape(repo_url)) if repo_url else ""
manifest = f"""<?xml version="1.0" encoding="utf-8"?>
<PackageManifest Version="2.0.0" xmlns="http://schemas.microsoft.com/developer/vsx-schema/2011" xmlns:d="http://schemas.microsoft.com/developer/vsx-schema-design/2011">
  <Metadata>
    <Identity Language="en-US" Id="{escape(ident)}" Version="{escape(pkg['version'])}" Publisher="{escape(pkg['publisher'])}" />
    <DisplayName>{escape(pkg.get('displayName', ident))}</DisplayName>
    <Description xml:space="preserve">{escape(pkg.get('description', ''))}</Description>
    <Tags>{escape(','.join(pkg.get('keywords', [])))}</Tags>
    <Categories>{escape(','.join(pkg.get('categories', [])))}</Categories>
    <GalleryFlags>Public</GalleryFlags>
    <Properties>
      <Property Id="Microsoft.VisualStudio.Code.Engine" Value="{escape(pkg['engines']['vscode'])}" />
{source}    </Properties>
    <License>extension/LICENSE.txt</License>
  </Metadata>
  <Installation>
    <InstallationTarget Id="Microsoft.VisualStudio.Code" />
  </Installation>
  <Dependencies />
  <Assets>
    <Asset Type="Microsoft.VisualStudio.Code.Manifest" Path="extension/package.json" Addressable="true" />
    <Asset Type="Microsoft.VisualStudio.Services.Content.Details" Path="extension/README.md" Addressable="true" />
    <Asset Type="Microsoft.VisualStudio.Services.Content.License" Path="extension/LICENSE.txt" Addressable="true" />
  </Assets>
</PackageManifest>
"""
exts = sorted({os.path.splitext(rel)[1] for rel, _ in files} | {".vsixmanifest"})
types = {".json": "application/json", ".js": "application/javascript", ".md": "text/markdown",
         ".txt": "text/plain", ".vsixmanifest": "text/xml"}
ct = '<?xml version="1.0" encoding="utf-8"?>\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' + \
     "".join('<Default Extension="%s" ContentType="%s" />' % (e, types.get(e, "application/octet-stream")) for e in exts if e) + \
     "</Types>\n"
tmp = out + ".tmp"
with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as z:
    def put(name, data):
        info = zipfile.ZipInfo(name, (1980, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info.external_attr = 0o644 << 16
        z.writestr(info, data)
    put("[Content_Types].xml", ct)
    put("extension.vsixmanifest", manifest)
    for rel, full in files:
        put("extension/" + rel, open(full, "rb").read())
os.replace(tmp, out)
