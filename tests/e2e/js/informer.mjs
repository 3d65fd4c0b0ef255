// SPDX-License-Identifier: Apache-2.0
// An informer over configmaps in "default", driven with @kubernetes/client-node: it must see
// adds, updates and deletes, survive the server restarting, and re-list after the watch is
// answered with 410 Expired (its revision fell out of the server's event window).
import * as k8s from '@kubernetes/client-node';
import { existsSync } from 'node:fs';

const [kubeconfig, flag] = process.argv.slice(2);
const kc = new k8s.KubeConfig();
kc.loadFromFile(kubeconfig);
const core = kc.makeApiClient(k8s.CoreV1Api);

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, cond, ms = 20000) {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}
const cm = (name, ns = 'default') => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace: ns }, data: { v: '1' } });

const nsList = await core.listNamespace();
if (!nsList.items.some((n) => n.metadata.name === 'default')) throw new Error('no default namespace');

let lists = 0;
const seen = { add: new Set(), update: new Set(), delete: new Set() };
const informer = k8s.makeInformer(kc, '/api/v1/namespaces/default/configmaps', () => {
  lists++;
  return core.listNamespacedConfigMap({ namespace: 'default' });
});
for (const ev of ['add', 'update', 'delete']) informer.on(ev, (o) => seen[ev].add(o.metadata.name));
informer.on('error', () => setTimeout(() => informer.start().catch(() => {}), 300));
await core.createNamespacedConfigMap({ namespace: 'default', body: cm('a') });
await informer.start();
await until('add a', () => seen.add.has('a'));
await core.createNamespacedConfigMap({ namespace: 'default', body: cm('b') });
await until('add b', () => seen.add.has('b'));
await core.patchNamespacedConfigMap({ namespace: 'default', name: 'b', body: { data: { v: '2' } } },
  k8s.setHeaderOptions('Content-Type', k8s.PatchStrategy.MergePatch));
await until('update b', () => seen.update.has('b'));
// Writes the informer does not watch move the server's revision past the informer's.
await core.createNamespace({ body: { metadata: { name: 'other' } } });
for (let i = 0; i < 5; i++) await core.createNamespacedConfigMap({ namespace: 'other', body: cm(`o${i}`, 'other') });
console.log('RESTART-NOW');
await until('the server restart', () => existsSync(flag), 60000);
await until('a re-list after 410', () => lists >= 2, 30000);
await core.createNamespacedConfigMap({ namespace: 'default', body: cm('c') });
await until('add c', () => seen.add.has('c'));
await core.deleteNamespacedConfigMap({ namespace: 'default', name: 'b' });
await until('delete b', () => seen.delete.has('b'));
informer.stop();
console.log(`PASS lists=${lists}`);
process.exit(0);
