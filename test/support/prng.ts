/** A seeded PRNG (mulberry32), so a failing history can be replayed: the examples' own generator. */
export { prng } from '../../examples/streams/prng.ts';
