import csv, sys, os, math
a, b = sys.argv[1], sys.argv[2]
files = sorted(f for f in os.listdir(a) if f.endswith('.csv'))
sub = [d for d in os.listdir(a) if os.path.isdir(os.path.join(a, d))]
for d in sub:
    for f in os.listdir(os.path.join(a, d)):
        if f.endswith('.csv'): files.append(os.path.join(d, f))
ident = 0
for f in sorted(files):
    pa, pb = os.path.join(a, f), os.path.join(b, f)
    if not os.path.exists(pb): print('missing', f); continue
    if open(pa,'rb').read() == open(pb,'rb').read(): ident += 1; continue
    ra = list(csv.reader(open(pa))); rb = list(csv.reader(open(pb)))
    worst = (0, None)
    for i, (x, y) in enumerate(zip(ra, rb)):
        for j, (u, v) in enumerate(zip(x, y)):
            if u == v: continue
            try: fu, fv = float(u), float(v)
            except ValueError: worst = max(worst, (math.inf, (ra[0][j] if ra else j, u, v)), key=lambda t: t[0]); continue
            rel = abs(fu - fv) / max(abs(fu), abs(fv), 1e-30)
            if rel > worst[0]: worst = (rel, (ra[0][j], u, v))
    print(f'{f}: max rel {worst[0]:.2e} at {worst[1]}')
print('identical files:', ident, 'of', len(files))
