<?php
declare(strict_types=1);

namespace Bench;

abstract class Model
{
    public function __construct(public readonly int $id)
    {
    }

    /** @return array<string, mixed> */
    abstract public function toArray(): array;
}
