// Device flags as the commands parse them: `--default-limits` reaches acquireDevice (test/study/paper-shapes.test.ts
// shows what the option does to the device).
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { addDeviceOptions, deviceOptionsFrom, type DeviceFlags } from '../../src/cli/device-options.ts';

const parse = (args: string[]) => deviceOptionsFrom(addDeviceOptions(new Command()).parse(args, { from: 'user' }).opts<DeviceFlags>());

describe('device flags', () => {
  it.each([
    { args: ['--default-limits'], defaultLimits: true },
    { args: ['--fallback'], defaultLimits: undefined },
  ])('$args → defaultLimits $defaultLimits', ({ args, defaultLimits }) => {
    expect(parse(args).defaultLimits).toBe(defaultLimits);
  });
});
