import { TraceSimulator } from './trace-simulator.js';

/**
 * A checkout across five services with a parallel fan-out (true times in ms):
 *
 *   gateway  0 ─────────────────────────────────────────────── 100
 *     order    6 ────────────────────────────────────── 94        (called 5..95)
 *       ├ inventory 11 ──── 39                                     (called 10..40, branch A)
 *       └ pricing   11 ──────────────────── 69                     (called 10..70, branch B)
 *            └ tax     21 ──────────── 59                          (called 20..60)
 *     order's own work after the join: 70..94
 *
 * Critical path: gateway 12 ms, order 30, pricing 20, tax 38 (inventory runs in the shadow of
 * pricing). `skewMs` puts tax on a host whose clock is off by that much.
 */
export function checkoutFanOut(options: { taxSkewMs?: number; outlivingAudit?: boolean } = {}) {
  const sim = new TraceSimulator();
  const gateway = sim.service('gateway');
  const order = sim.service('order');
  const inventory = sim.service('inventory');
  const pricing = sim.service('pricing');
  const tax = sim.service('tax', { skewMs: options.taxSkewMs ?? 0 });
  const audit = sim.service('audit');

  const root = sim.request(gateway, { method: 'POST', route: '/checkout' });
  sim.at(5);
  const toOrder = root.call(order, { method: 'POST', path: '/orders' });
  sim.at(6);
  const o = toOrder.serve({ route: '/orders' });
  sim.at(10);
  const branchA = o.fork();
  const branchB = o.fork();
  const toInventory = branchA.call(inventory, { path: '/stock' });
  const toPricing = branchB.call(pricing, { path: '/price' });
  sim.at(11);
  const inv = toInventory.serve();
  const pri = toPricing.serve();
  sim.at(20);
  const toTax = pri.call(tax, { path: '/tax' });
  sim.at(21);
  const t = toTax.serve();
  sim.at(39);
  inv.respond();
  sim.at(40);
  toInventory.receive();
  sim.at(59);
  t.respond();
  sim.at(60);
  toTax.receive();
  sim.at(69);
  pri.respond();
  sim.at(70);
  toPricing.receive();
  o.join(branchA);
  o.join(branchB);
  o.write('order:1', { value: 'placed' });
  sim.at(94);
  o.respond({ status: 201 });
  sim.at(95);
  toOrder.receive({ status: 201 });
  let toAudit: ReturnType<typeof root.call> | undefined;
  let a: ReturnType<typeof toOrder.serve> | undefined;
  if (options.outlivingAudit) {
    sim.at(97);
    toAudit = root.call(audit, { method: 'POST', path: '/audit' });
    sim.at(98);
    a = toAudit.serve();
  }
  sim.at(100);
  root.respond({ status: 201 });
  if (a && toAudit) {
    sim.at(129);
    a.respond();
    sim.at(130);
    toAudit.receive();
  }
  return { sim, events: sim.events, spans: { root, o, inv, pri, t, a } };
}
