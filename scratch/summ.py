import json
names=['B1','B2','A1','A2']
runs={n:json.load(open(f'/tmp/{n}.json')) for n in names}
cells=['const','shared','diag','gru','lstm','linear']
def get(n,cell):
  for c in runs[n]['cells']:
    if c['cell']==cell: return c
def mmrate(n):
  return runs[n]['kernels']
def groups(c):
  prof=c['profile']; nb=prof['totalMs']/c['gpuMsPerBatch']
  g={'f':0,'b':0,'w':0}
  for k in prof['kernels']:
    if k['name'].startswith('forward_'): g['f']+=k['totalMs']/nb
    elif k['name'].startswith('backward_'): g['b']+=k['totalMs']/nb
    elif k['name'].startswith('weight_grad'): g['w']+=k['totalMs']/nb
  return g
print('| cell | GPU ms per batch, before → after | forward | backward | weight gradients | forward dots, of matmul | backward dots, of matmul | peak MiB |')
print('|---|---|---|---|---|---|---|---|')
for cell in cells:
  b=[get(n,cell) for n in ['B1','B2']]; a=[get(n,cell) for n in ['A1','A2']]
  m=lambda xs,f: sum(f(x) for x in xs)/len(xs)
  gb=[groups(x) for x in b]; ga=[groups(x) for x in a]
  gbm=lambda k: sum(g[k] for g in gb)/2; gam=lambda k: sum(g[k] for g in ga)/2
  bm=m(b,lambda c:c['gpuMsPerBatch']); am=m(a,lambda c:c['gpuMsPerBatch'])
  share=lambda n,c,k: 100*c['recurrentGflops'][k]/c['recurrentGflops'].get('matmul', 1)
  def best(n): return max(k['rate'] for k in runs[n]['kernels'] if k['kernel'].startswith('matmul') and k['unit']=='GFLOP/s')
  def shares(ns, k):
    return ', '.join('%.0f%%' % (100*get(n,cell)['recurrentGflops'][k]/best(n)) for n in ns)
  print(f"| {cell} | {bm:.0f} → {am:.0f} ({100*(am/bm-1):+.0f}%) | {gbm('f'):.0f} → {gam('f'):.0f} | {gbm('b'):.0f} → {gam('b'):.0f} | {gbm('w'):.0f} → {gam('w'):.0f} | {shares(['B1','B2'],'forward')} → **{shares(['A1','A2'],'forward')}** | {shares(['B1','B2'],'backward')} → **{shares(['A1','A2'],'backward')}** | {m(b,lambda c:c['peakBytes'])/2**20:.1f} → {m(a,lambda c:c['peakBytes'])/2**20:.1f} |")

for n in names: print(n, 'matmul best %.2f' % best(n) if False else '', max(k['rate'] for k in runs[n]['kernels'] if k['kernel'].startswith('matmul') and k['unit']=='GFLOP/s'))
