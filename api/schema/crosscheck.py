#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Compares the schema files with Kubernetes' published OpenAPI, as generated into the model
classes of the JavaScript client (@kubernetes/client-node 1.0.0 is built from the v1.32.0 spec):
field names, types and the required lists must match. Enums and patch strategies are not in
those models; check them by hand. Development aid, not part of the build or CI.

    api/schema/crosscheck.py                 # fetches the client with `npm pack` into a temp dir
    api/schema/crosscheck.py MODELS_DIR      # .../package/dist/gen/models of an unpacked client

metav1.MicroTime is written `time` on purpose; those fields show up as TYPE/FORMAT lines.
"""
import glob, json, os, re, subprocess, sys, tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PRIM = dict(string="string", boolean="boolean", int32="number", int64="number", number="number",
            quantity="string", intstr="IntOrString", time="Date", bytes="string", any="any",
            object="any")
FMT = dict(int32="int32", int64="int64", number="double", time="date-time", bytes="byte",
           intstr="int-or-string")


def models_dir():
    if len(sys.argv) > 1:
        return sys.argv[1]
    tmp = tempfile.mkdtemp()
    subprocess.run(["npm", "pack", "--silent", "@kubernetes/client-node@1.0.0"], cwd=tmp,
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run("tar xzf *.tgz", shell=True, cwd=tmp, check=True)
    return os.path.join(tmp, "package/dist/gen/models")


def parse_schema():
    types, pkg, cur = {}, "core.v1", None
    for path in sorted(glob.glob(os.path.join(HERE, "*.schema"))):
        for line in open(path):
            line = line.rstrip("\n")
            if not line.strip() or line.startswith("#"):
                continue
            if line.startswith("@package "):
                pkg = line[9:].strip()
            elif line.startswith("  "):
                head = line[2:].split(": ", 1)[0].rstrip(":").split()
                cur["fields"][head[0]] = dict(ty=head[1], flags=head[2:])
            else:
                name, tid, p = line.split(":", 1)[0], None, pkg
                if "@" in name:
                    name, p = name.split("@")
                    tid = p + "." + name
                cur = dict(name=name, pkg=p, fields={})
                types[tid or name] = cur
    return types


def main():
    models = models_dir()
    types = parse_schema()
    cache = {}

    def model(cls):
        if cls not in cache:
            js = os.path.join(models, cls + ".js")
            out = subprocess.run(["node", "-e", "import('%s').then(m=>console.log(JSON.stringify("
                                  "m['%s'].attributeTypeMap)))" % (js, cls)],
                                 capture_output=True, text=True, check=True).stdout
            dts = open(os.path.join(models, cls + ".d.ts")).read()
            cache[cls] = ({a["baseName"]: (a["type"], a["format"]) for a in json.loads(out)},
                          set(re.findall(r"^\s+'([^']+)': ", dts, re.M)))
        return cache[cls]

    def cls_for(t):
        grp, ver = t["pkg"].split(".")
        for c in (grp.capitalize() + ver.upper() + t["name"], ver.upper() + t["name"]):
            if os.path.exists(os.path.join(models, c + ".js")):
                return c
        return None

    def norm(ty):
        if ty.startswith("[]"):
            return "Array<%s>" % norm(ty[2:])
        if ty.startswith("map["):
            return "{ [key: string]: %s; }" % norm(ty[4:-1])
        if ty in PRIM:
            return PRIM[ty]
        return cls_for(types[ty]) if ty in types else "?" + ty

    def fmt(ty):
        while ty.startswith("[]") or ty.startswith("map["):
            ty = ty[2:] if ty.startswith("[]") else ty[4:-1]
        return FMT.get(ty, "")

    problems = 0
    for tid, t in sorted(types.items()):
        cls = cls_for(t)
        if not cls:
            print("NOCLASS %s" % tid)
            problems += 1
            continue
        attrs, required = model(cls)
        for f in sorted(set(attrs) - set(t["fields"])):
            print("MISSING %s.%s (%s)" % (tid, f, attrs[f][0]))
            problems += 1
        for f in sorted(set(t["fields"]) - set(attrs)):
            print("EXTRA   %s.%s" % (tid, f))
            problems += 1
        for f in sorted(set(t["fields"]) & set(attrs)):
            fd, (want, wfmt) = t["fields"][f], attrs[f]
            if norm(fd["ty"]) != want:
                print("TYPE    %s.%s: %s, want %s" % (tid, f, fd["ty"], want))
                problems += 1
            if wfmt != fmt(fd["ty"]) and not (fd["ty"].endswith("quantity") and not wfmt):
                print("FORMAT  %s.%s: %s, want %s" % (tid, f, fd["ty"], wfmt))
                problems += 1
            if ("required" in fd["flags"]) != (f in required):
                print("REQ     %s.%s: required=%s" % (tid, f, f in required))
                problems += 1
    print("%d types, %d problems" % (len(types), problems))


if __name__ == "__main__":
    main()
