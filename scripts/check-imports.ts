// Import structure check (CI runs it as test/unit/architecture/imports.test.ts).
//   npm run check:imports     prints every problem; exits 1 when there is one
// Over src/, workflows/ and activities/, type-only imports included (they still tie the
// parts together):
//   1. file cycles: strongly connected components of the module graph;
//   2. folder cycles: the same graph with each module collapsed to its part (src/tiktok,
//      src/cli, src/worker, workflows/audience-sync, workflows/index, …); a cycle between
//      two folders that no file-level cycle shows (src/config → src/tiktok → src/config
//      through different files) is still a tangle;
//   3. the house (LIFECYCLES, KERNEL, … in eslint.config.mjs, the one list the lint
//      boundaries use too): every part is known, nothing is nested deeper than the lint
//      boundaries see, and the workflow-safe modules exist and import as values only each
//      other and npm packages (no Node built-ins), so workflows stay deterministic.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The areas whose modules are checked, relative to the root. */
export const AREAS = ['src', 'workflows', 'activities'] as const;

export interface Import {
  /** Module path relative to the root (a local file), or the specifier of a Node built-in. */
  to: string;
  typeOnly: boolean;
  dynamic: boolean;
  builtin: boolean;
}

/** Local modules (paths relative to the root, '/'-separated) and what each imports. */
export type ImportGraph = Map<string, Import[]>;

/** The house, as eslint.config.mjs describes it. */
export interface House {
  LIFECYCLES: readonly string[];
  KERNEL: readonly string[];
  APP: readonly string[];
  EMULATOR: string;
  ROOT_FILES: readonly string[];
  WORKFLOW_SAFE_MODULES: readonly string[];
  BOUNDARY_DEPTH: number;
}

export interface Cycle {
  /** All the nodes of the strongly connected component. */
  members: string[];
  /**
   * Concrete cycles through it, first node repeated at the end: a shortest one through each
   * member, duplicates dropped, so that every member shows up in a readable chain.
   */
  chains: string[][];
  /** For folder cycles: one file import behind each step of each chain. */
  via?: string[][];
}

export interface ImportReport {
  modules: number;
  fileCycles: Cycle[];
  folderCycles: Cycle[];
  /** Breaches of the house (unknown parts, too deep, impure workflow-safe modules). */
  house: string[];
}

/** The repository: the nearest folder with a package.json above this file (scripts/ or dist/scripts/). */
function findRoot(from: string): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${from}`);
  }
}

const ROOT = findRoot(__dirname);

/** Reads the house from eslint.config.mjs (ESM; loaded by URL so that tsc leaves it alone). */
export async function loadHouse(root = ROOT): Promise<House> {
  return (await import(pathToFileURL(join(root, 'eslint.config.mjs')).href)) as House;
}

/** The module graph of `areas` under `root`, by dependency-cruiser (ESM, hence the dynamic import). */
export async function loadImportGraph(root: string, areas: readonly string[] = AREAS): Promise<ImportGraph> {
  const { cruise } = await import('dependency-cruiser');
  const present = areas.filter((a) => existsSync(join(root, a)));
  const result = await cruise(present, {
    baseDir: root,
    tsPreCompilationDeps: true,
    exclude: { path: '(^|/)(node_modules|dist|test)/' },
    doNotFollow: { path: '(^|/)node_modules/' },
  });
  if (typeof result.output === 'string') throw new Error('dependency-cruiser returned text, not a cruise result');
  const local = (p: string): boolean => present.some((a) => p.startsWith(`${a}/`)) && /\.[cm]?tsx?$/.test(p);
  const graph: ImportGraph = new Map();
  for (const m of result.output.modules) {
    if (!local(m.source)) continue;
    const imports: Import[] = [];
    for (const d of m.dependencies) {
      const builtin = d.coreModule;
      if (!builtin && !local(d.resolved)) continue;
      imports.push({
        to: builtin ? d.module : d.resolved,
        typeOnly: d.dependencyTypes.includes('type-only'),
        dynamic: d.dynamic,
        builtin,
      });
    }
    graph.set(m.source, imports);
  }
  return graph;
}

/** Tarjan's strongly connected components (iterative: no recursion depth limit). */
export function stronglyConnectedComponents(nodes: Iterable<string>, edges: (node: string) => Iterable<string>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  for (const start of nodes) {
    if (index.has(start)) continue;
    const work: Array<{ node: string; it: Iterator<string> }> = [];
    const visit = (node: string): void => {
      index.set(node, next);
      low.set(node, next);
      next++;
      stack.push(node);
      onStack.add(node);
      work.push({ node, it: edges(node)[Symbol.iterator]() });
    };
    visit(start);
    while (work.length > 0) {
      const top = work[work.length - 1]!;
      const step = top.it.next();
      if (!step.done) {
        const to = step.value;
        if (!index.has(to)) visit(to);
        else if (onStack.has(to)) low.set(top.node, Math.min(low.get(top.node)!, index.get(to)!));
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(top.node)!));
      if (low.get(top.node) === index.get(top.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== top.node);
        components.push(component);
      }
    }
  }
  return components;
}

/** A shortest cycle through `start` inside `members` (breadth-first), start repeated at the end. */
function shortestCycle(start: string, members: Set<string>, edges: (node: string) => Iterable<string>): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  for (let i = 0; i < queue.length; i++) {
    const node = queue[i]!;
    for (const to of edges(node)) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path = [node];
        while (path[0] !== start) path.unshift(previous.get(path[0]!)!);
        return [...path, start];
      }
      if (!previous.has(to)) {
        previous.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

/** Components of more than one node (or with a self-loop), each with a readable chain. */
function cyclesOf(nodes: Iterable<string>, edges: (node: string) => Iterable<string>, selfLoops: boolean): Cycle[] {
  const cycles: Cycle[] = [];
  for (const component of stronglyConnectedComponents(nodes, edges)) {
    const only = component[0]!;
    const loop = component.length === 1 && selfLoops && [...edges(only)].includes(only);
    if (component.length < 2 && !loop) continue;
    const members = [...component].sort();
    const chains = new Map<string, string[]>();
    for (const member of members) {
      const chain = shortestCycle(member, new Set(members), edges);
      const ring = chain.slice(0, -1);
      const first = ring.indexOf([...ring].sort()[0]!);
      const canonical = [...ring.slice(first), ...ring.slice(0, first)];
      chains.set(canonical.join('\0'), [...canonical, canonical[0]!]);
    }
    cycles.push({ members, chains: [...chains.values()].sort((a, b) => a.length - b.length || a.join().localeCompare(b.join())) });
  }
  return cycles.sort((a, b) => a.members[0]!.localeCompare(b.members[0]!));
}

const localEdges = (graph: ImportGraph) => (node: string): string[] =>
  [...new Set((graph.get(node) ?? []).filter((i) => !i.builtin && graph.has(i.to)).map((i) => i.to))];

/** Level 1: cycles between files. */
export function fileCycles(graph: ImportGraph): Cycle[] {
  return cyclesOf(graph.keys(), localEdges(graph), true);
}

/**
 * The part a module belongs to: the first folder under its area (src/tiktok,
 * workflows/audience-sync), or, for a file directly in an area, that file without its
 * extension (src/worker, workflows/index).
 */
export function partOf(module: string): string {
  const [area, second, ...rest] = module.split('/');
  return rest.length > 0 ? `${area}/${second}` : `${area}/${second!.replace(/\.[cm]?tsx?$/, '')}`;
}

/** Level 2: cycles between parts (self-imports of a part do not count). */
export function folderCycles(graph: ImportGraph): Cycle[] {
  const witness = new Map<string, Map<string, string>>();
  for (const [from, imports] of graph) {
    for (const i of imports) {
      if (i.builtin || !graph.has(i.to)) continue;
      const a = partOf(from);
      const b = partOf(i.to);
      if (a === b) continue;
      const out = witness.get(a) ?? new Map<string, string>();
      witness.set(a, out);
      if (!out.has(b)) out.set(b, `${from} → ${i.to}${i.typeOnly ? ' (type-only)' : ''}`);
    }
  }
  const parts = new Set([...graph.keys()].map(partOf));
  const edges = (part: string): string[] => [...(witness.get(part)?.keys() ?? [])];
  return cyclesOf(parts, edges, false).map((c) => ({
    ...c,
    via: c.chains.map((chain) => chain.slice(1).map((to, k) => witness.get(chain[k]!)!.get(to)!)),
  }));
}

/** Level 3: the graph against the house. */
export function houseProblems(graph: ImportGraph, house: House, root: string): string[] {
  const problems: string[] = [];
  const known = new Set([
    ...house.KERNEL,
    ...house.APP,
    house.EMULATOR,
    ...house.ROOT_FILES,
    ...house.LIFECYCLES.flatMap((lc) => AREAS.map((area) => `${area}/${lc}`)),
  ]);
  const unknown = new Map<string, string>();
  for (const module of graph.keys()) {
    const part = partOf(module);
    if (!known.has(part) && !unknown.has(part)) unknown.set(part, module);
    const depth = module.split('/').length - 3;
    if (depth > house.BOUNDARY_DEPTH) {
      problems.push(`${module}: nested ${depth} folders inside ${part}; the lint boundaries see ${house.BOUNDARY_DEPTH} (BOUNDARY_DEPTH)`);
    }
  }
  for (const [part, module] of unknown) {
    problems.push(
      `${part} (${module}) is not part of the house: add it to LIFECYCLES, KERNEL, APP or ROOT_FILES in eslint.config.mjs so the lint boundaries cover it`,
    );
  }
  const safe = new Set(house.WORKFLOW_SAFE_MODULES);
  for (const module of house.WORKFLOW_SAFE_MODULES) {
    if (!existsSync(join(root, module))) {
      problems.push(`${module} is listed in WORKFLOW_SAFE_MODULES but does not exist`);
      continue;
    }
    for (const i of graph.get(module) ?? []) {
      if (i.typeOnly) continue;
      if (i.builtin) problems.push(`${module} is workflow-safe but imports the Node built-in ${i.to}`);
      else if (!safe.has(i.to)) problems.push(`${module} is workflow-safe but imports ${i.to} as a value, which is not (WORKFLOW_SAFE_MODULES)`);
    }
  }
  return problems;
}

/** The whole check: file cycles, folder cycles and the house. */
export async function checkImports(root = ROOT, house?: House): Promise<ImportReport> {
  const graph = await loadImportGraph(root);
  return {
    modules: graph.size,
    fileCycles: fileCycles(graph),
    folderCycles: folderCycles(graph),
    house: house ? houseProblems(graph, house, root) : [],
  };
}

export function problemCount(report: ImportReport): number {
  return report.fileCycles.length + report.folderCycles.length + report.house.length;
}

/** The report as text, one block per problem. */
export function formatReport(report: ImportReport): string {
  const lines: string[] = [];
  const section = (title: string, items: string[]): void => {
    if (items.length === 0) return;
    lines.push(`${title} (${items.length}):`, ...items.map((item) => `  ${item.replace(/\n/g, '\n  ')}`), '');
  };
  const cycle = (c: Cycle): string => {
    const head = c.members.length > 2 ? `${c.members.length} tangled: ${c.members.join(', ')}\n` : '';
    const chains = c.chains.map((chain, k) => {
      const via = (c.via?.[k] ?? []).map((v) => `\n    via ${v}`).join('');
      return `${chain.join(' → ')}${via}`;
    });
    return head + chains.join('\n');
  };
  section('File cycles', report.fileCycles.map(cycle));
  section('Folder cycles', report.folderCycles.map(cycle));
  section('House', report.house);
  lines.push(
    problemCount(report) === 0
      ? `imports: ${report.modules} modules, no cycles, house in order`
      : `imports: ${report.modules} modules, ${report.fileCycles.length} file cycles, ${report.folderCycles.length} folder cycles, ${report.house.length} house problems`,
  );
  return lines.join('\n');
}

async function main(): Promise<void> {
  const root = process.argv[2] ?? ROOT;
  const report = await checkImports(root, await loadHouse(root));
  console.log(formatReport(report));
  if (problemCount(report) > 0) process.exitCode = 1;
}

if (typeof require !== 'undefined' && typeof module !== 'undefined' && require.main === module) {
  main().catch((err: unknown) => {
    console.error(err);
    process.exitCode = 1;
  });
}
