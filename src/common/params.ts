// Path parameter pipes that fail with a problem naming the parameter.
import { Injectable, Param, PipeTransform } from '@nestjs/common';
import { ApiParam } from '@nestjs/swagger';
import { invalid } from './problem';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

@Injectable()
export class ParseIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!UUID.test(value)) throw invalid('id', 'must be a UUID');
    return value.toLowerCase();
  }
}

/**
 * `@IdParam() id: string`: the `:id` path parameter, refused with a 400 naming it unless it is a
 * UUID, and documented as one (`format: uuid`) on the route it belongs to.
 */
export function IdParam(description = 'The UUID of the resource.'): ParameterDecorator {
  return (target, key, index) => {
    Param('id', ParseIdPipe)(target, key!, index);
    const descriptor = Object.getOwnPropertyDescriptor(target, key!)!;
    ApiParam({ name: 'id', required: true, description, schema: { type: 'string', format: 'uuid' } })(target, key!, descriptor);
  };
}
