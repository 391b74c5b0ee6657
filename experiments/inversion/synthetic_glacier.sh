#!/bin/sh
# Writes a synthetic valley glacier (the truth of the twin experiments) to
# $1 with ncgen: 44 x 26 cells of 250 m, a 9 km tongue on a 6 % slope in a
# parabolic valley, up to ~360 m thick (H0 sqrt(1 - x/L) sqrt(1 - (y/w)^2),
# a bump of 60 m at x = 4 km), no data but geometry (thk, topg, usurf).
set -eu
out=${1:?usage: synthetic_glacier.sh OUT.nc}
awk -v nx=44 -v ny=26 -v dx=250 'BEGIN {
  print "netcdf synthetic_glacier {\ndimensions:\n  x = " nx " ;\n  y = " ny " ;\nvariables:";
  print "  double x(x) ;\n    x:units = \"m\" ;\n  double y(y) ;\n    y:units = \"m\" ;";
  print "  double thk(y, x) ;\n    thk:units = \"m\" ;\n  double topg(y, x) ;\n    topg:units = \"m\" ;";
  print "  double usurf(y, x) ;\n    usurf:units = \"m\" ;\ndata:";
  s = "  x = "; for (i = 0; i < nx; i++) s = s (i ? ", " : "") i * dx; print s " ;";
  s = "  y = "; for (j = 0; j < ny; j++) s = s (j ? ", " : "") j * dx; print s " ;";
  L = 9000; yc = (ny - 1) * dx / 2;
  for (j = 0; j < ny; j++) for (i = 0; i < nx; i++) {
    x = i * dx - 500; y = j * dx - yc;
    w = 2200 - 700 * (x > 0 ? x : 0) / L;
    surf = 2900 - 0.06 * i * dx + 120 * (y / 3000)^2;
    h = 0;
    if (x > 0 && x < L && y * y < w * w)
      h = (340 * sqrt(1 - x / L) + 60 * exp(-((x - 4000) / 1000)^2)) * sqrt(1 - (y / w)^2);
    if (h < 10) h = 0;
    H[j * nx + i] = h; S[j * nx + i] = surf;
  }
  for (v = 0; v < 3; v++) {
    s = "  " (v == 0 ? "thk" : v == 1 ? "topg" : "usurf") " = ";
    for (k = 0; k < nx * ny; k++) {
      val = v == 0 ? H[k] : v == 1 ? S[k] - H[k] : S[k];
      s = s (k ? ", " : "") sprintf("%.3f", val);
    }
    print s " ;";
  }
  print "}";
}' > "$out.cdl"
ncgen -4 -o "$out" "$out.cdl"
rm -f "$out.cdl"
