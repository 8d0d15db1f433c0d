"""``netattest images``: every container image a cluster run pulls, one per line, for mirroring in air-gapped labs.

With ``--mirror REGISTRY`` each line becomes ``SOURCE DESTINATION`` (ready for ``skopeo copy`` or ``oc image
mirror``), and the flag to pass afterwards is printed. The lab pulls no image at all.
"""

from __future__ import annotations

import argparse
import sys

NAME = "images"
HELP = "list every container image a cluster run uses (for mirroring)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--probe-image", default=None,
                        help="the probe image a run would use (default: $NETATTEST_PROBE_IMAGE or the built-in one)")
    parser.add_argument("--mirror", default=None, metavar="REGISTRY",
                        help="print 'source destination' pairs for mirroring into REGISTRY (e.g. registry.lab:5000)")


def mirrored(image: str, registry: str) -> str:
    """``docker.io/nicolaka/netshoot:v0.13`` -> ``<registry>/nicolaka/netshoot:v0.13`` (the path is kept)."""
    first, _, rest = image.partition("/")
    path = rest if rest and ("." in first or ":" in first or first == "localhost") else image
    return f"{registry.rstrip('/')}/{path}"


def run(args: argparse.Namespace) -> int:
    from netattest.k8s.plan import ClusterOptions, default_probe_image

    options = ClusterOptions(probe_image=args.probe_image or default_probe_image())
    images = [options.probe_image]  # probe pods and node-inventory pods share it
    if not args.mirror:
        print("\n".join(images))
        return 0
    for image in images:
        print(f"{image} {mirrored(image, args.mirror)}")
    sys.stderr.write(f"then run with: --probe-image {mirrored(images[0], args.mirror)} "
                     "(or set NETATTEST_PROBE_IMAGE)\n")
    return 0
