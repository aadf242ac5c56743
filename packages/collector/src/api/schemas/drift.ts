import type {
  AnalysisLimit,
  BrokenChain,
  ClockSkew,
  CriticalPathSection,
  CriticalPathSegment,
  CriticalPath as CriticalPathType,
  DependencyEdge as DependencyEdgeType,
  DiagnosticsSummary,
  ErrorPropagation,
  LatencySummary,
  RaceAccess as RaceAccessType,
  RaceSide as RaceSideType,
  Race as RaceType,
  ServiceContribution,
  ServiceMetrics as ServiceMetricsType,
  ServiceTime,
  TraceDiagnostics,
} from '../../analysis/index.js';
import type { ServiceSdk as ServiceSdkType } from '../../ingest/sdk-registry.js';
import type { AnalysisStatus as AnalysisStatusType } from '../../scheduler/analysis-scheduler.js';
import type { SpanEvent as SpanEventType, SpanNode } from '../span-tree.js';
import type { Latency, ServiceMetrics, ServiceSdk } from './aggregates.js';
import type {
  AnalysisStatus,
  CriticalPath,
  Diagnostics,
  RaceAccess,
  RaceExample,
  RaceSide,
} from './analysis.js';
import type { DependencyEdge, Span, SpanEvent } from './index.js';

// The build fails when a type the answers are made of and the schema that declares it differ in
// their fields: TypeScript checks that what a handler returns fits its schema, but a field the
// analysis adds (optional, say) would still go out undeclared. Each line compares the fields of
// one type with its schema's, both ways. (Server side only: the UI does not import this file.)

type Fields<A, B> = [Exclude<keyof A, keyof B>] extends [never]
  ? [Exclude<keyof B, keyof A>] extends [never]
    ? true
    : { notInTheType: Exclude<keyof B, keyof A> }
  : { notInTheSchema: Exclude<keyof A, keyof B> };
type Same<T extends true> = T;
type Item<T> = T extends ReadonlyArray<infer I> ? I : never;

export type SchemaDrift = [
  Same<Fields<CriticalPathType, CriticalPath>>,
  Same<Fields<CriticalPathSegment, Item<CriticalPath['segments']>>>,
  Same<Fields<CriticalPathSection, Item<CriticalPath['sections']>>>,
  Same<Fields<ServiceContribution, Item<CriticalPath['services']>>>,
  Same<Fields<TraceDiagnostics, Diagnostics>>,
  Same<Fields<BrokenChain, Item<Diagnostics['brokenChains']>>>,
  Same<Fields<AnalysisLimit, Item<Diagnostics['analysisLimits']>>>,
  Same<Fields<ClockSkew, Item<Diagnostics['clockSkew']>>>,
  Same<Fields<ErrorPropagation, Item<Diagnostics['errors']>>>,
  Same<Fields<ErrorPropagation['origin'], Item<Diagnostics['errors']>['origin']>>,
  Same<Fields<DiagnosticsSummary, Diagnostics['summary']>>,
  Same<Fields<ServiceTime, Item<Diagnostics['summary']['slowestServices']>>>,
  Same<Fields<RaceType, RaceExample>>,
  Same<Fields<RaceAccessType, RaceAccess>>,
  Same<Fields<RaceSideType, RaceSide>>,
  Same<Fields<AnalysisStatusType, AnalysisStatus>>,
  Same<Fields<ServiceMetricsType & { sdks: unknown }, ServiceMetrics>>,
  Same<Fields<ServiceSdkType, ServiceSdk>>,
  Same<Fields<LatencySummary, Latency>>,
  Same<Fields<DependencyEdgeType, DependencyEdge>>,
  Same<Fields<SpanNode, Span>>,
  Same<Fields<SpanEventType, SpanEvent>>,
];
