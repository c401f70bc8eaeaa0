import { ControlledGate, VirtualClock, simulateLoad, type LoadSimulationResult } from '@sluice/testing';
import { pipeline, type Clock } from '@sluice/core';

const clock = new VirtualClock();
const asClock: Clock = clock;
const gate = pipeline({ clock }, new ControlledGate({ capacity: 2, queueLimit: 0, clock }));
const _result: Promise<LoadSimulationResult> = simulateLoad({
  clock,
  gate,
  durationMs: 1_000,
  arrivalsPerSecond: 5,
  serviceTimeMs: 10,
  servers: 1,
});
void asClock, _result;
