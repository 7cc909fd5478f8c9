// The user-mode Linux runner (lab/uml/uml.ts) and what the project needs from the guest kernel: VRFs,
// bridges enslaved to them, VXLAN, dummy devices, and FRR (zebra + bgpd) in a network namespace seeing
// the VRF and its L3 VNI. One guest serves the kernel and FRR tests; runInUml boots its own.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  runInUml,
  startUml,
  type Uml,
  UmlCommandError,
  UmlError,
  UmlExecTimeoutError,
  umlUnavailableReason,
} from '../lab/uml/uml.js';
import { gate, hasFrr, isRoot, type Prerequisite } from './support/prereq.js';

const hasUml: Prerequisite = () => umlUnavailableReason();

interface LinkJson {
  ifname: string;
  master?: string;
  flags?: string[];
  linkinfo?: { info_kind?: string; info_data?: Record<string, unknown> };
}

function link(links: LinkJson[], name: string): LinkJson {
  const l = links.find((x) => x.ifname === name);
  assert.ok(l, `link ${name} missing; have ${links.map((x) => x.ifname).join(', ')}`);
  return l;
}

describe('runInUml', gate(isRoot, hasUml), () => {
  test('parallel runs do not collide; a failing script reports its exit status and output; budgets hold', async () => {
    const t0 = performance.now();
    const overBudget = runInUml({ script: 'echo started; sleep 120', timeoutMs: 6000 }).then(
      () => assert.fail('a script past its budget must reject'),
      (e: unknown) => e,
    );
    const [ok, failing] = await Promise.all([
      runInUml({
        script: 'echo "hello $WHO"; ip link add v0 type vrf table 7 && ip -j -d link show v0',
        env: { WHO: "from 'ok' run" },
      }),
      runInUml({ script: 'echo "to stdout"; echo "to stderr" >&2; exit 7' }),
    ]);
    assert.equal(ok.exitCode, 0, ok.output);
    assert.match(ok.output, /^hello from 'ok' run\n/);
    const v0 = JSON.parse(ok.output.split('\n')[1] ?? '') as LinkJson[];
    assert.equal(v0[0]?.linkinfo?.info_data?.['table'], 7);
    assert.equal(failing.exitCode, 7);
    assert.equal(failing.output, 'to stdout\nto stderr\n');
    for (const r of [ok, failing]) {
      assert.ok(r.bootMs > 0 && r.totalMs >= r.bootMs, JSON.stringify(r));
    }
    const e = await overBudget;
    const ms = performance.now() - t0;
    assert.ok(ms < 6000 + 5000, `the over-budget run ended after ${Math.round(ms)} ms`);
    if (e instanceof UmlExecTimeoutError) assert.equal(e.result.stdout, 'started\n');
    else assert.match(String(e), /did not become ready/); // only when booting alone took 6 s
  });

  test('a boot that fails is an error naming the cause, with the console tail', async () => {
    await assert.rejects(runInUml({ script: 'true', modules: ['no_such_module'] }), (e: unknown) => {
      assert.ok(e instanceof UmlError, String(e));
      assert.match(e.message, /init failed: loading modules no_such_module/);
      assert.match(e.consoleTail, /Run \/.*\/init as init process/);
      assert.match(e.consoleTail, /module no_such_module not found/);
      return true;
    });
  });
});

describe('inside one UML guest', gate(isRoot, hasUml), () => {
  let uml: Uml | undefined;
  let share: string | undefined;
  const guest = (): Uml => {
    assert.ok(uml, 'the guest did not boot');
    return uml;
  };

  before(async () => {
    share = mkdtempSync(join(tmpdir(), 'umltest-share-'));
    uml = await startUml({
      name: 'umltest',
      env: { UMLTEST_BOOT: 'set at boot' },
      hostDirs: [{ host: share, guest: '/tmp/share' }],
    });
    const t = uml.timings;
    const mem = uml.hostRssKB();
    console.log(
      `# UML boot ${t.bootMs} ms (kernel ${t.kernelMs} ms, init setup ${t.setupMs} ms, modules ${t.modulesMs} ms ` +
        `via ${t.moduleLoader}); host RSS of linux.uml ${Math.round(mem.mainKB / 1024)} MiB`,
    );
  });
  after(async () => {
    await uml?.stop();
    if (share !== undefined) rmSync(share, { recursive: true, force: true });
  });

  test('the guest has a private /tmp, boot-time env and the shared host directory', async () => {
    assert.ok(share);
    writeFileSync(join(share, 'from-host'), 'host data\n');
    const out = await guest().run(
      'echo "$UMLTEST_BOOT"; cat /tmp/share/from-host; echo guest data > /tmp/share/from-guest; ' +
        "touch /tmp/private; hostname; cut -d' ' -f1 /proc/modules | grep -E '^(ipv6|vrf|dummy|veth|bridge|vxlan)$' | sort",
    );
    assert.equal(out, 'set at boot\nhost data\numl\nbridge\ndummy\nipv6\nveth\nvrf\nvxlan\n');
    assert.equal(readFileSync(join(share, 'from-guest'), 'utf8'), 'guest data\n');
    assert.throws(() => readFileSync('/tmp/private'), /ENOENT/);
  });

  test('exec returns exit status, stdout and stderr separately, and feeds stdin and env', async () => {
    const r = await guest().exec('echo "out $X"; cat; echo err >&2; exit 3', {
      stdin: 'in\n',
      env: { X: 'a b' },
    });
    assert.deepEqual(
      { exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr },
      { exitCode: 3, stdout: 'out a b\nin\n', stderr: 'err\n' },
    );
    const merged = await guest().exec('echo 1; echo 2 >&2; echo 3', { mergeStderr: true });
    assert.equal(merged.stdout, '1\n2\n3\n');
    // Large output arrives whole (hostfs writes go straight to the host file).
    const big = await guest().exec('seq 1 100000');
    assert.equal(big.stdout.length, 588895);
    assert.ok(big.stdout.endsWith('\n99999\n100000\n'));
    // Commands do not share shell state: each runs in a fresh subshell of init, in /.
    await guest().exec('cd /tmp; FOO=1');
    assert.equal((await guest().exec('echo "$PWD"; [ -z "$FOO" ] && echo unset')).stdout, '/\nunset\n');
  });

  test('run() throws on a non-zero exit with the output in the message', async () => {
    await assert.rejects(guest().run('echo oops >&2; false'), (e: unknown) => {
      assert.ok(e instanceof UmlCommandError);
      assert.equal(e.result.exitCode, 1);
      assert.match(e.message, /oops/);
      return true;
    });
    assert.equal(await guest().run('echo fine'), 'fine\n');
  });

  test('a command that outlives its timeout is killed with its process group; the guest stays usable', async () => {
    await assert.rejects(
      guest().exec('echo started; sleep 30 & wait; echo never', { timeoutMs: 1000 }),
      (e: unknown) => {
        assert.ok(e instanceof UmlExecTimeoutError, String(e));
        assert.equal(e.result.stdout, 'started\n');
        assert.ok(e.result.ms < 10_000, `killed after ${e.result.ms} ms`);
        return true;
      },
    );
    assert.equal((await guest().exec('pgrep -x sleep || echo none')).stdout, 'none\n');
  });

  test('a VRF with a table, a bridge in it, VXLAN on the loopback address and a dummy, in a netns', async () => {
    await guest().run(`set -e
ip netns add perouter
ip netns exec perouter sysctl -qw net.vrf.strict_mode=1
ip -n perouter -batch - <<'EOF'
link set lo up
addr add 100.65.0.1/32 dev lo
link add red type vrf table 1100
link set red up
link add br-pe-100 type bridge
link set br-pe-100 master red addrgenmode none
addr add 192.168.10.1/24 dev br-pe-100
link set br-pe-100 up
link add vni100 type vxlan id 100 local 100.65.0.1 dstport 4789 nolearning
link set vni100 master br-pe-100 addrgenmode none
link set vni100 up
link add dummy0 type dummy
link set dummy0 up
EOF`);
    const links = JSON.parse(await guest().run('ip -n perouter -json -d link show')) as LinkJson[];
    const red = link(links, 'red');
    assert.equal(red.linkinfo?.info_kind, 'vrf');
    assert.equal(red.linkinfo?.info_data?.['table'], 1100);
    const br = link(links, 'br-pe-100');
    assert.equal(br.linkinfo?.info_kind, 'bridge');
    assert.equal(br.master, 'red');
    const vx = link(links, 'vni100');
    assert.equal(vx.linkinfo?.info_kind, 'vxlan');
    assert.equal(vx.master, 'br-pe-100');
    assert.equal(vx.linkinfo?.info_data?.['id'], 100);
    assert.equal(vx.linkinfo?.info_data?.['local'], '100.65.0.1');
    assert.equal(vx.linkinfo?.info_data?.['port'], 4789);
    assert.equal(vx.linkinfo?.info_data?.['learning'], false);
    assert.equal(link(links, 'dummy0').linkinfo?.info_kind, 'dummy');
    // the bridge's connected route lands in the VRF's table, not in main
    const routes = JSON.parse(await guest().run('ip -n perouter -json route show table 1100')) as {
      dst: string;
      dev: string;
    }[];
    assert.ok(
      routes.some((r) => r.dst === '192.168.10.0/24' && r.dev === 'br-pe-100'),
      JSON.stringify(routes),
    );
    assert.equal(await guest().run('ip -n perouter route show 192.168.10.0/24'), '');
    // strict mode: a second VRF on the same table is refused
    const dup = await guest().exec('ip -n perouter link add red2 type vrf table 1100');
    assert.notEqual(dup.exitCode, 0);
    assert.match(dup.stderr, /Table is used by another VRF/);
  });

  test(
    'zebra and bgpd in a netns (pathspace, as frr) see vrf red active with its table and L3 VNI',
    gate(hasFrr),
    async () => {
      const ns = 'pe1';
      await guest().run(
        `set -e
NS=${ns}
ip netns add $NS
ip netns exec $NS sysctl -qw net.vrf.strict_mode=1 net.ipv4.ip_forward=1
ip -n $NS -batch - <<'EOF'
link set lo up
addr add 100.65.0.2/32 dev lo
link add red type vrf table 1100
link set red up
link add br-pe-100 type bridge
link set br-pe-100 master red addrgenmode none
link set br-pe-100 up
link add vni100 type vxlan id 100 local 100.65.0.2 dstport 4789 nolearning
link set vni100 master br-pe-100 addrgenmode none
link set vni100 up
EOF
install -d -o frr -g frr /etc/frr/$NS /var/run/frr/$NS
cat > /etc/frr/$NS/frr.conf <<'EOF'
frr defaults datacenter
vrf red
 vni 100
exit-vrf
router bgp 64514
 bgp router-id 100.65.0.2
 no bgp default ipv4-unicast
 address-family l2vpn evpn
  advertise-all-vni
 exit-address-family
exit
router bgp 64514 vrf red
 bgp router-id 100.65.0.2
 address-family l2vpn evpn
  advertise ipv4 unicast
 exit-address-family
exit
EOF
echo 'service integrated-vtysh-config' > /etc/frr/$NS/vtysh.conf
chown frr:frr /etc/frr/$NS/*
for d in zebra bgpd; do
  ip netns exec $NS /usr/lib/frr/$d -d -N $NS -P 0 -i /var/run/frr/$NS/$d.pid --log file:/var/log/frr/$NS-$d.log &
done
wait
for i in $(seq 1 100); do [ -S /var/run/frr/$NS/zebra.vty ] && [ -S /var/run/frr/$NS/bgpd.vty ] && break; sleep 0.1; done
vtysh -N $NS -b`,
        { timeoutMs: 60_000 },
      );
      // the daemons dropped root for the frr user
      const users = await guest().run('ps -o user=,comm= -C zebra,bgpd');
      const seen = users
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' '))
        .sort();
      assert.deepEqual(seen, ['frr bgpd', 'frr zebra']);
      // zebra may need a moment to bring the L3 VNI up
      type VrfVni = { vrf: string; vni: number; state: string; vxlanIntf: string; sviIntf: string };
      let showVrf = '';
      let vrfVni: { vrfs?: VrfVni[] } = {};
      for (let i = 0; i < 20; i++) {
        const out = await guest().run(`vtysh -N ${ns} -c 'show vrf' -c 'show vrf vni json'`);
        const at = out.indexOf('{');
        showVrf = out.slice(0, at);
        vrfVni = JSON.parse(out.slice(at)) as typeof vrfVni;
        if (vrfVni.vrfs?.find((v) => v.vrf === 'red')?.state === 'Up') break;
        await new Promise((r) => setTimeout(r, 250));
      }
      const redLine = showVrf.split('\n').find((l) => l.startsWith('vrf red '));
      assert.ok(redLine, showVrf);
      assert.match(redLine, /^vrf red id \d+ table 1100\b/);
      assert.doesNotMatch(redLine, /inactive/);
      const l3 = vrfVni.vrfs?.find((v) => v.vrf === 'red');
      assert.ok(l3, JSON.stringify(vrfVni));
      assert.deepEqual([l3.vni, l3.vxlanIntf, l3.sviIntf, l3.state], [100, 'vni100', 'br-pe-100', 'Up']);
    },
  );
});
