import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';

import { hasErrorCode } from '../../../components/common/errors.ts';
import { loadFunction, type FunctionModule } from '../../../components/function-host/function-loader.ts';

const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
const isLoadError = (err: unknown): boolean => hasErrorCode(err, 'ERR_FNHOST_FUNCTION_LOAD');

describe('components/function-host/function-loader', () => {
  it('loads a module from a file path and passes it its options', async () => {
    const definition = await loadFunction(fixture('echo-function.ts'), { name: 'parrot' });
    assert.equal(definition.name, 'parrot');
    assert.equal(definition.isStateful, false);
  });

  it('loads a builtin by name', async () => {
    const builtins: Record<string, FunctionModule> = {
      'app/one': { createFunction: () => ({ name: 'one', isStateful: true, handler: () => 1 }) },
    };
    assert.equal((await loadFunction('builtin:app/one', {}, builtins)).name, 'one');
  });

  const failures: {
    name: string;
    source: string;
    builtins?: Record<string, FunctionModule>;
    message: RegExp;
  }[] = [
    { name: 'an unknown builtin', source: 'builtin:nope', message: /no such builtin; known: none/ },
    { name: 'a missing file', source: '/nonexistent/function.ts', message: /could not be imported/ },
    {
      name: 'a module without createFunction',
      source: fixture('not-a-function-module.ts'),
      message: /does not export createFunction/,
    },
    {
      name: 'a definition without a handler',
      source: 'builtin:bad',
      builtins: { bad: { createFunction: () => ({ name: 'bad', isStateful: false }) as never } },
      message: /handler must be a function/,
    },
    {
      name: 'a createFunction that throws on its options',
      source: 'builtin:picky',
      builtins: {
        picky: {
          createFunction: () => {
            throw new RangeError('window too long');
          },
        },
      },
      message: /createFunction threw: window too long/,
    },
  ];
  for (const { name, source, builtins, message } of failures) {
    it(`refuses ${name} with ERR_FNHOST_FUNCTION_LOAD`, async () => {
      await assert.rejects(
        loadFunction(source, {}, builtins),
        (err) => isLoadError(err) && message.test((err as Error).message),
      );
    });
  }
});
