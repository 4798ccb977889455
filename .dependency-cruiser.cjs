/**
 * Import boundaries (checked in CI by `npm run boundaries`):
 * services never import one another; libs never import services;
 * libs/contracts depends on nothing but its validator.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-service-to-service',
      comment: 'A service talks to another over the bus or HTTP; what they share lives in libs/.',
      severity: 'error',
      from: { path: '^services/([^/]+)/' },
      to: { path: '^services/', pathNot: '^services/$1/' },
    },
    {
      name: 'no-lib-to-service',
      severity: 'error',
      from: { path: '^libs/' },
      to: { path: '^(services|cli|test|bench)/' },
    },
    {
      name: 'contracts-depend-on-the-validator-only',
      severity: 'error',
      from: { path: '^libs/contracts/', pathNot: '\\.spec\\.ts$' },
      to: { pathNot: '^(libs/contracts/|node_modules/(class-validator|reflect-metadata)/)' },
    },
    {
      name: 'services-do-not-import-tests',
      severity: 'error',
      from: { path: '^(services|libs|cli)/', pathNot: '\\.spec\\.ts$' },
      to: { path: '^test/' },
    },
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^(dist|\\.tools|\\.data)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['require', 'node', 'default', 'types'] },
  },
};
