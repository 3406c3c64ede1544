// A private single-node Slurm for the tests: its own MUNGE daemon (own key and socket), slurmctld and slurmd, all in
// the foreground as this process's children, with their state, spool and logs in one temporary folder, and ports
// the system had free. Nothing of the machine's own Slurm or MUNGE (if any) is read, written or stopped: every
// client reaches this cluster through SLURM_CONF, every daemon through the socket named in its slurm.conf.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DAEMONS = ['munged', 'slurmctld', 'slurmd', 'sbatch', 'squeue', 'scancel', 'sinfo'] as const;

/** Why this machine cannot start the test cluster, or undefined when it can. */
export function clusterUnavailable(): string | undefined {
  const missing = DAEMONS.filter((program) => spawnSync('sh', ['-c', `command -v ${program} || test -x /usr/sbin/${program}`]).status !== 0);
  if (missing.length) return `no Slurm/MUNGE here (${missing.join(', ')} missing): install them with bash .ci/install-slurm`;
  if (process.getuid?.() !== 0) return 'not root: slurmd runs jobs as their user only when it runs as root (SlurmdUser=root)';
  if (spawnSync('id', ['-u', 'munge']).status !== 0) return 'no munge user (the munge package creates it): reinstall munge';
  return undefined;
}

export interface Cluster {
  root: string;
  /** The environment for Slurm's client commands (and lwin, which calls sbatch): SLURM_CONF names this cluster. */
  env: NodeJS.ProcessEnv;
  /** Runs a Slurm client command against this cluster, returning its stdout (throws with its stderr on failure). */
  client(program: string, args: readonly string[]): string;
  stop(): Promise<void>;
}

const sbin = (program: string) => (spawnSync('sh', ['-c', `command -v ${program}`]).status === 0 ? program : `/usr/sbin/${program}`);

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer().once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? done(address.port) : fail(new Error('no port'))));
    });
  });
}

const idOf = (flag: '-u' | '-g', user: string) => Number(spawnSync('id', [flag, user], { encoding: 'utf8' }).stdout.trim());

/** MUNGE with its own key and socket, run as the munge user (munged refuses root). */
async function startMunge(dir: string, started: ChildProcess[]): Promise<string> {
  const uid = idOf('-u', 'munge');
  const gid = idOf('-g', 'munge');
  await mkdir(dir, { mode: 0o755 });
  await chown(dir, uid, gid);
  const key = join(dir, 'munge.key');
  await writeFile(key, randomBytes(128), { mode: 0o600 });
  await chown(key, uid, gid);
  const socket = join(dir, 'munge.socket');
  started.push(spawn(sbin('munged'), ['--foreground', `--socket=${socket}`, `--key-file=${key}`, `--pid-file=${join(dir, 'munged.pid')}`,
    `--log-file=${join(dir, 'munged.log')}`, `--seed-file=${join(dir, 'munged.seed')}`], { uid, gid, stdio: 'ignore' }));
  await until(() => spawnSync('munge', ['-n', '-S', socket]).status === 0, 10_000, `munged did not answer on ${socket} (see ${join(dir, 'munged.log')})`);
  return socket;
}

async function slurmConf(root: string, socket: string): Promise<string> {
  // `slurmd -C` prints this machine's NodeName (its hostname), CPUs and RealMemory exactly as slurmd will see them.
  const node = spawnSync(sbin('slurmd'), ['-C'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();
  const host = /^NodeName=(\S+)/.exec(node)?.[1];
  if (!host) throw new Error(`slurmd -C printed '${node}', not a NodeName line`);
  const [ctldPort, dPort] = [await freePort(), await freePort()];
  for (const dir of ['state', 'spool', 'log']) await mkdir(join(root, dir));
  const lines = [
    'ClusterName=lwintest', `SlurmctldHost=${host}`, `SlurmctldPort=${ctldPort}`, `SlurmdPort=${dPort}`,
    'AuthType=auth/munge', 'CredType=cred/munge', `AuthInfo=socket=${socket}`, 'SlurmUser=root', 'SlurmdUser=root',
    `StateSaveLocation=${join(root, 'state')}`, `SlurmdSpoolDir=${join(root, 'spool')}`,
    `SlurmctldPidFile=${join(root, 'slurmctld.pid')}`, `SlurmdPidFile=${join(root, 'slurmd.pid')}`,
    `SlurmctldLogFile=${join(root, 'log', 'slurmctld.log')}`, `SlurmdLogFile=${join(root, 'log', 'slurmd.log')}`,
    'ProctrackType=proctrack/linuxproc', 'TaskPlugin=task/none', 'SelectType=select/cons_tres', 'SelectTypeParameters=CR_Core',
    'JobAcctGatherType=jobacct_gather/none', 'AccountingStorageType=accounting_storage/none', 'MpiDefault=none',
    // Finished jobs stay listed (squeue -t all) for 5 minutes: the test reads their final states without sacct.
    'ReturnToService=2', 'MinJobAge=300', 'KillWait=5', 'InactiveLimit=0',
    `${node} State=UNKNOWN`, `PartitionName=debug Nodes=${host} Default=YES MaxTime=INFINITE State=UP`,
  ];
  const conf = join(root, 'slurm.conf');
  await writeFile(conf, `${lines.join('\n')}\n`);
  return conf;
}

export async function until(ready: () => boolean | Promise<boolean>, timeoutMs: number, failure: string, everyMs = 250): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s: ${failure}`);
    await new Promise((done) => setTimeout(done, everyMs));
  }
}

/** Stops each daemon this process started, by its pid, and waits for it to exit. */
async function stopAll(started: readonly ChildProcess[]): Promise<void> {
  for (const child of [...started].reverse()) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) continue;
    const exited = new Promise((done) => child.once('exit', done));
    process.kill(child.pid, 'SIGTERM');
    await Promise.race([exited, new Promise((done) => setTimeout(done, 10_000))]);
    if (child.exitCode === null && child.signalCode === null) process.kill(child.pid, 'SIGKILL');
  }
}

export async function startCluster(): Promise<Cluster> {
  const root = await mkdtemp(join(tmpdir(), 'lwin-slurm-'));
  await chmod(root, 0o755); // the munge user must reach its folder inside
  const started: ChildProcess[] = [];
  const env = { ...process.env, SLURM_CONF: join(root, 'slurm.conf') };
  const client = (program: string, args: readonly string[]) => {
    const run = spawnSync(program, args, { env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`${program} ${args.join(' ')} failed: ${run.stderr || run.error?.message}`);
    return run.stdout;
  };
  const stop = async () => {
    // Jobs first (only this cluster's: SLURM_CONF), so that no job step outlives its slurmd.
    spawnSync('scancel', ['--me'], { env, timeout: 15_000 });
    await stopAll(started);
    await rm(root, { recursive: true, force: true });
  };
  try {
    const socket = await startMunge(join(root, 'munge'), started);
    const conf = await slurmConf(root, socket);
    started.push(spawn(sbin('slurmctld'), ['-D', '-f', conf], { env, stdio: 'ignore' }));
    started.push(spawn(sbin('slurmd'), ['-D', '-f', conf], { env, stdio: 'ignore' }));
    await until(() => spawnSync('sinfo', ['-h', '-o', '%t'], { env, encoding: 'utf8' }).stdout.trim() === 'idle', 30_000,
      `the node did not come up idle (logs: ${join(root, 'log')})`);
  } catch (error) {
    const logs = await readFile(join(root, 'log', 'slurmctld.log'), 'utf8').catch(() => '');
    await stop();
    throw new Error(`${(error as Error).message}${logs ? `\nslurmctld.log ends:\n${logs.split('\n').slice(-15).join('\n')}` : ''}`);
  }
  return { root, env, client, stop };
}
