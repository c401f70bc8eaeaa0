import { describe, expect, it } from 'vitest';
import { EMPTY_PERMIT, PassThroughGate, passThrough } from '@sluice/core';

describe('PassThroughGate', () => {
  it('admits everything at once and counts it', async () => {
    const gate = passThrough({ name: 'audit' });
    expect(gate).toBeInstanceOf(PassThroughGate);
    expect(gate.capacity).toBe(Infinity);
    expect(gate.tryAcquire(1_000_000)).toBe(EMPTY_PERMIT);
    expect(await gate.acquire(3)).toBe(EMPTY_PERMIT);
    expect(await gate.run(() => 'x')).toBe('x');
    expect(gate.stats()).toMatchObject({ admitted: 3, refused: 0, waiting: 0, available: Infinity });
    expect(gate.pressure).toBe(0);
  });

  it('refuses once closed', async () => {
    const gate = passThrough();
    gate.close();
    expect(gate.tryAcquire()).toMatchObject({ granted: false, reason: 'closed', gate: 'pass-through' });
    await expect(gate.acquire()).rejects.toThrow(/pass-through: closed/);
  });

  it('rejects bad options', () => {
    expect(() => passThrough({ name: '' })).toThrow(/name must be a non-empty string/);
    expect(() => passThrough(null as never)).toThrow(/options must be an object/);
  });
});
