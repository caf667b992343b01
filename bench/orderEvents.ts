/**
 * Order events of about 1 KB, shaped like real ones: ids, user ids, amounts, statuses, timestamps,
 * line items and an address, with varied values so compression sees realistic entropy (not the
 * same string repeated). Deterministic for a given seed.
 */
const STATUSES = ['CREATED', 'PAID', 'PACKED', 'SHIPPED', 'DELIVERED', 'CANCELLED', 'REFUNDED'];
const CURRENCIES = ['EUR', 'USD', 'GBP', 'JPY', 'SEK'];
const CITIES = ['Lisbon', 'Osaka', 'Denver', 'Tallinn', 'Recife', 'Leeds', 'Cork', 'Perth', 'Accra', 'Lyon'];
const STREETS = ['Rua Augusta', 'Main St', 'Kings Rd', 'Via Roma', 'Sakura-dori', 'Elm Ave', 'Harbour Way'];
const CARRIERS = ['DHL', 'UPS', 'PostNL', 'Yamato', 'FedEx', 'CTT'];

export function orderEvents(count: number, seed = 1): { key: string; value: Record<string, unknown> }[] {
  let x = seed >>> 0;
  const rand = (): number => {
    x = (x + 0x6d2b79f5) >>> 0;
    let t = Math.imul(x ^ (x >>> 15), x | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(a: readonly T[]): T => a[Math.floor(rand() * a.length)]!;
  const hex = (n: number): string => Array.from({ length: n }, () => Math.floor(rand() * 16).toString(16)).join('');
  const base = Date.UTC(2026, 10, 1);
  return Array.from({ length: count }, (_, i) => {
    const userId = `user-${Math.floor(rand() * 50_000)}`;
    const items = Array.from({ length: 2 + Math.floor(rand() * 4) }, () => ({
      sku: `SKU-${hex(6).toUpperCase()}`,
      name: `${pick(['Blue', 'Red', 'Oak', 'Steel', 'Linen', 'Matte'])} ${pick(['mug', 'lamp', 'chair', 'kettle', 'scarf', 'desk'])}`,
      quantity: 1 + Math.floor(rand() * 5),
      unitPrice: Math.round(rand() * 20_000) / 100,
    }));
    const createdAt = base + i * 137 + Math.floor(rand() * 1000);
    const value = {
      eventId: `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`,
      eventType: 'OrderStatusChanged',
      orderId: `ord-${hex(10)}`,
      userId,
      status: pick(STATUSES),
      previousStatus: pick(STATUSES),
      amount: Math.round(rand() * 100_000) / 100,
      currency: pick(CURRENCIES),
      items,
      shipping: {
        carrier: pick(CARRIERS),
        trackingNumber: hex(16).toUpperCase(),
        address: {
          street: `${Math.floor(rand() * 300)} ${pick(STREETS)}`,
          city: pick(CITIES),
          postcode: hex(5).toUpperCase(),
          country: pick(['PT', 'JP', 'US', 'EE', 'BR', 'GB', 'IE', 'AU', 'GH', 'FR']),
        },
      },
      payment: {
        method: pick(['card', 'paypal', 'sepa', 'klarna']),
        last4: String(Math.floor(rand() * 10_000)).padStart(4, '0'),
        authCode: hex(12),
      },
      createdAt: new Date(createdAt).toISOString(),
      updatedAt: new Date(createdAt + Math.floor(rand() * 86_400_000)).toISOString(),
      correlationId: hex(32),
      source: pick(['web', 'ios', 'android', 'pos', 'partner-api']),
      notes: rand() < 0.3 ? `Leave at ${pick(['door', 'reception', 'locker'])} ${hex(6)}` : null,
    };
    // Pad to about 1 KB with varied content, as real events carry extra fields of their own.
    const size = JSON.stringify(value).length;
    const padded = size < 1000 ? { ...value, attributes: { trace: hex(Math.max(0, 1000 - size - 24)) } } : value;
    return { key: userId, value: padded };
  });
}
